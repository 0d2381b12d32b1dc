"""Wire-level helpers: Bot API errors, argument parsing and JSON answers.

The real Bot API server (tdlib/telegram-bot-api) turns every parameter into a string argument,
whatever the transport (query string, form-encoded body, multipart body or JSON body), and each
method then reads its arguments with the same few rules (``to_bool``, ``get_integer_arg``). This
module reproduces those rules so that the stand-in accepts and rejects exactly what Telegram does.
"""

from __future__ import annotations

import json
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


class ApiError(Exception):
    """An error answered to a Bot API call, in Telegram's own shape."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad_request(message: str) -> ApiError:
    """A 400 error; ``message`` is what follows ``Bad Request: ``."""
    return ApiError(400, f"Bad Request: {message}")


def forbidden(message: str) -> ApiError:
    """A 403 error; ``message`` is what follows ``Forbidden: ``."""
    return ApiError(403, f"Forbidden: {message}")


def too_many_requests(retry_after: int) -> ApiError:
    retry_after = max(1, int(retry_after))
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
    )


def to_bool(value: str) -> bool:
    """The server's ``to_bool``: ``true``, ``yes`` or ``1``, case-insensitive, trimmed."""
    return value.strip().lower() in ("true", "yes", "1")


def to_integer(value: str) -> int:
    """The server's ``td::to_integer``: an optional sign then leading digits; anything else is 0."""
    s = value.strip()
    sign = 1
    if s.startswith("-"):
        sign = -1
        s = s[1:]
    elif s.startswith("+"):
        s = s[1:]
    digits = ""
    for ch in s:
        if not ch.isdigit() or not ch.isascii():
            break
        digits += ch
    return sign * int(digits) if digits else 0


class Args:
    """The string arguments of one Bot API call."""

    def __init__(self, values: dict[str, str], files: dict[str, dict[str, Any]] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def has(self, name: str) -> bool:
        """Whether the argument is given and not empty (the server treats "" as absent)."""
        return self.values.get(name, "") != ""

    def flag(self, name: str) -> bool:
        return to_bool(self.values.get(name, ""))

    def integer(
        self, name: str, default: int = 0, min_value: int = INT32_MIN, max_value: int = INT32_MAX
    ) -> int:
        """The server's ``get_integer_arg``: missing or empty gives the default; then clamped."""
        raw = self.values.get(name, "")
        value = default if raw == "" else to_integer(raw)
        return max(min_value, min(max_value, value))

    def int64(self, name: str) -> int:
        raw = self.values.get(name, "")
        return to_integer(raw) if raw else 0

    def json_value(self, name: str) -> Any:
        """Decodes a JSON-valued argument; raises ValueError when it is not JSON."""
        return json.loads(self.values[name])

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.values)
        for name, info in self.files.items():
            out[name] = {"file": info.get("filename"), "size": info.get("size")}
        return out


def json_arg(value: Any) -> str | None:
    """How the server turns a top-level JSON value into a string argument."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def read_args(request: Request) -> Args:
    """Reads the arguments of a call from its query string and its body, as the Bot API does.

    Raises ApiError for a body that cannot be read (a JSON body that is not an object, for example).
    """
    values: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    for key, value in urllib.parse.parse_qsl(request.url.query, keep_blank_values=True):
        values[key] = value
    body = await request.body()
    if not body:
        return Args(values, files)
    content_type = request.headers.get("content-type", "")
    main_type = content_type.split(";", 1)[0].strip().lower()
    if main_type == "application/json":
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request("can't parse JSON encoded request") from exc
        if not isinstance(decoded, dict):
            raise bad_request("JSON object expected as request body")
        for key, value in decoded.items():
            arg = json_arg(value)
            if arg is not None:
                values[str(key)] = arg
    elif main_type == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        if not message.is_multipart():
            raise bad_request("can't parse multipart/form-data request")
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = {"filename": filename, "size": len(raw), "content": raw}
            else:
                charset = part.get_content_charset() or "utf-8"
                values[name] = raw.decode(charset, errors="replace")
    else:
        # application/x-www-form-urlencoded, and what clients send without a content type.
        text = body.decode("utf-8", errors="replace")
        for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
            values[key] = value
    return Args(values, files)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
