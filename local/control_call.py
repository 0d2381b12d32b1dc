"""What the stand-ins' control handlers take: one control request as plain values, without HTTP.

A handler is a plain function of its stand-in's state and a :class:`ControlCall`; each stand-in's
control module wraps its handlers in Starlette routes, and tests call them directly.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["ControlCall", "ControlError", "control_endpoint"]


@dataclass(frozen=True)
class ControlCall:
    body: dict[str, Any] = field(default_factory=dict)  # the JSON body ({} when empty)
    path: dict[str, Any] = field(default_factory=dict)  # path parameters, converted by the route
    query: dict[str, str] = field(default_factory=dict)
    base_url: str = ""  # the stand-in's own URL, as the request reached it

    @classmethod
    def of(cls, request: Request, body: dict[str, Any]) -> ControlCall:
        return cls(
            body=body,
            path=dict(request.path_params),
            query=dict(request.query_params),
            base_url=str(request.base_url),
        )


class ControlError(Exception):
    """A control request the stand-in cannot carry out (400), or about something unknown (404)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except ValueError as exc:
        raise ControlError("the body must be JSON") from exc
    if not isinstance(decoded, dict):
        raise ControlError("the body must be a JSON object")
    return decoded


def control_endpoint(
    handler: Callable[[ControlCall], Any],
    respond: Callable[[Any, int], Response],
    error_body: Callable[[str], Any],
    bad_requests: tuple[type[Exception], ...] = (),
) -> Callable[[Request], Awaitable[Response]]:
    """A route endpoint around a handler (sync or async) that answers ``respond(answer, 200)``.

    A ``ControlError`` answers its status; ``ValueError``, ``KeyError``, ``TypeError`` (a malformed
    field) answer 400 with the exception's type and text, ``bad_requests`` 400 with their text.
    """

    async def endpoint(request: Request) -> Response:
        try:
            answer = handler(ControlCall.of(request, _json_object(await request.body())))
            if inspect.isawaitable(answer):
                answer = await answer
            return respond(answer, 200)
        except ControlError as exc:
            return respond(error_body(str(exc)), exc.status)
        except bad_requests as exc:
            return respond(error_body(str(exc)), 400)
        except (ValueError, KeyError, TypeError) as exc:
            return respond(error_body(f"{type(exc).__name__}: {exc}"), 400)

    return endpoint
