"""Human-readable tables by default, JSON with `--json`; errors on standard error, exit code 1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import click
from pydantic import BaseModel


class Failed(click.ClickException):
    """An operator error: the message, then one line per problem (e.g. each bad field)."""

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.message}", err=True)
        for problem in self.problems:
            click.echo(f"  {problem}", err=True)


def plain(value: Any) -> Any:
    """A JSON-ready value: documents as their JSON dump, times in ISO 8601, decimals as strings."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:59] + "…"


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def fields(pairs: Mapping[str, Any]) -> str:
    """One `name: value` line per field, aligned."""
    width = max((len(k) for k in pairs), default=0)
    return "\n".join(f"{k.ljust(width)}  {cell(v)}" for k, v in pairs.items())


def emit(as_json: bool, payload: Any, human: Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(plain(payload), indent=2))
    else:
        click.echo(human())
