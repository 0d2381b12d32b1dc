"""Request bodies of the public entry points, read with a bound whatever their framing.

`Content-Length` alone bounds nothing: a chunked body carries none, and the server hands it over to be
read to its end. So the body is read here at most `limit + 1` bytes, and refused past the limit before
anything parses it.
"""

from __future__ import annotations

import io
import json
from typing import Any

from flask import Request

_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body is over the entry point's limit: answer 413."""


def read_bounded(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge once more than `limit` bytes are declared or sent."""
    declared = request.content_length
    chunks: list[bytes] = []
    size = 0
    if declared is None or declared <= limit:
        while size <= limit:
            chunk = request.stream.read(min(_CHUNK, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
    # functions-framework reads whatever is left of a body after every response, into memory and
    # unbounded: leave it nothing. The server discards the rest or drops the connection.
    request.stream = io.BytesIO()
    raise BodyTooLarge(f"more than {limit} bytes (declared {declared})")


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None for anything else (not JSON, not an object, nested too deeply)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None
