"""Options and formatting the analysis commands share (not a command: the name starts with _)."""

from __future__ import annotations

import math
from typing import Any, TypedDict

import numpy as np
from django.core.management.base import CommandParser

from csp_platform.core.output import FORMATS


def comma_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def add_filters(parser: CommandParser, *, categories: bool = True) -> None:
    parser.add_argument("--source", help="comma list of source codes (default: every source)")
    if categories:
        parser.add_argument("--category", help="comma list of category codes")
        parser.add_argument("--theme", help="comma list of theme codes")


class Filters(TypedDict, total=False):
    sources: tuple[str, ...]
    categories: tuple[str, ...]
    themes: tuple[str, ...]


def filters(o: dict[str, Any], *, categories: bool = True) -> Filters:
    """The selectors' keyword arguments for --source (and --category, --theme)."""
    out = Filters(sources=comma_list(o.get("source")))
    if categories:
        out["categories"] = comma_list(o.get("category"))
        out["themes"] = comma_list(o.get("theme"))
    return out


def add_format(parser: CommandParser, default: str = "table") -> None:
    parser.add_argument("--format", default=default, choices=FORMATS)


def number(value: float | None) -> str:
    """A score or rate for CSV: plain decimal notation, full precision, no separators."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return np.format_float_positional(float(value), trim="-")


def pct(value: float | None, *, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def share(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


def fixed(value: float | None, places: int = 2) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:,.{places}f}"
