"""owner_app: public HTTP entry point of the owners' Mini App: its static page at `/` and the JSON
API under `/api/` (Telegram initData checked on every call, by `telepay.owners.app`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import functions_framework
from flask import Request, Response

from shared_schemas.config import OwnerAppSettings
from telepay.core.errors import Transient
from telepay.core.logs import get_logger
from telepay.entry.request_body import BodyTooLarge, json_object, read_bounded
from telepay.owners.app import dumps, handle
from telepay.runtime import start

RT = start(OwnerAppSettings, "owner_app")
log = get_logger("owner_app")
MAX_BODY = 16_000
STATIC = Path(__file__).resolve().parent / "static"
FILES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/app.js": "app.js",
    "/app.css": "app.css",
    "/chart.umd.min.js": "chart.umd.min.js",  # Chart.js, pinned in npm/ (served from here: no CDN)
}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' https://telegram.org; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors https://web.telegram.org",
}


@functions_framework.http
def owner_app(request: Request) -> Any:
    if not request.path.startswith("/api/"):
        return _static(request.path)
    if request.method not in ("GET", "POST"):
        return {"error": "method not allowed"}, 405
    body = None
    if request.method == "POST":
        try:
            body = json_object(read_bounded(request, MAX_BODY))
        except BodyTooLarge:
            return {"error": "too large"}, 413
        if body is None:
            return {"error": "a JSON object is expected"}, 400
    try:
        reply = handle(
            RT, request.method, request.path, request.headers.get("Authorization"), body, request.args
        )
    except Transient as error:
        log.warning("owner app call not answered: %s", error)
        return {"error": "try again"}, 503
    headers = {"Cache-Control": "no-store", **reply.headers, **SECURITY}
    return Response(dumps(reply), reply.status, headers, content_type=reply.content_type)


def _static(path: str) -> Any:
    name = FILES.get(path)
    if name is None:
        return {"error": "not found"}, 404
    file = STATIC / name
    headers = {"Cache-Control": "no-cache", **SECURITY}
    return Response(file.read_bytes(), 200, headers, content_type=TYPES[file.suffix])
