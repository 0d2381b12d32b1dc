"""What the stand-ins' control handlers take: one control request as plain values, without HTTP.

A handler is a plain function of its stand-in's state and a :class:`ControlCall`; each stand-in's
control module wraps its handlers in Starlette routes, and tests call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

__all__ = ["ControlCall", "ControlError"]


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
