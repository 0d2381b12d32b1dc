"""Joi-like validation of request bodies, with the messages NowPayments (Joi) writes."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ValidationFailed", "boolean", "currency", "json_object", "number", "string", "uri"]


class ValidationFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _label(name: str) -> str:
    return f'"{name}"'


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValidationFailed(f"Unexpected token in JSON: {error.msg}") from error
    if not isinstance(body, dict):
        raise ValidationFailed('"value" must be of type object')
    return body


def number(body: dict[str, Any], name: str, *, required: bool, positive: bool = True) -> float | int | None:
    if name not in body or body[name] is None:
        if required:
            raise ValidationFailed(f"{_label(name)} is required")
        return None
    value = body[name]
    if isinstance(value, str):  # Joi converts numeric strings
        try:
            value = float(value.strip()) if value.strip() else None
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            raise ValidationFailed(f"{_label(name)} must be a number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{_label(name)} must be a number")
    if positive and value <= 0:
        raise ValidationFailed(f"{_label(name)} must be a positive number")
    return value


def string(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    if name not in body or (body[name] is None and not required):
        if required:
            raise ValidationFailed(f"{_label(name)} is required")
        return None
    value = body[name]
    if value is None:
        raise ValidationFailed(f"{_label(name)} must be a string")
    if not isinstance(value, str):
        raise ValidationFailed(f"{_label(name)} must be a string")
    if value == "":
        raise ValidationFailed(f"{_label(name)} is not allowed to be empty")
    return value


def uri(body: dict[str, Any], name: str) -> str | None:
    value = string(body, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(f"{_label(name)} must be a valid uri")
    return value


def boolean(body: dict[str, Any], name: str) -> bool | None:
    if name not in body or body[name] is None:
        return None
    value = body[name]
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, bool):
        raise ValidationFailed(f"{_label(name)} must be a boolean")
    return value


def currency(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = string(body, name, required=required)
    if value is None:
        return None
    if not value.isalnum() or not 2 <= len(value) <= 20:
        raise ValidationFailed(f"{_label(name)} is invalid")
    return value.lower()
