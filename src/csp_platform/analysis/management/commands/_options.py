"""Options and formatting the analysis commands share (not a command: the name starts with _)."""

from __future__ import annotations

import math
from typing import Any, TypedDict

import numpy as np
from django.core.management.base import CommandParser

from csp_platform.core.output import FORMATS
from csp_platform.incidents.scope import FULL_ACCESS, Period, Scope, scope_resolve


def comma_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def add_filters(parser: CommandParser, *, categories: bool = True) -> None:
    parser.add_argument("--source", help="comma list of source codes (default: every source)")
    if categories:
        parser.add_argument("--category", help="comma list of category codes")
        parser.add_argument("--theme", help="comma list of theme codes")
    add_generation(parser)


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


def add_generation(parser: CommandParser) -> None:
    parser.add_argument(
        "--generation",
        help="ward boundary generation, e.g. 2013 (default: the newest; a ward code takes its own)",
    )


def scope_from(
    o: dict[str, Any],
    area: str | None,
    *,
    period: Period | None = None,
    categories: bool = True,
    levels: tuple[str, ...] | None = None,
    category: str | None = None,
) -> Scope:
    """The command's :class:`Scope`, resolved once with full access (no user on the
    command line): the area, --generation, --source (and --category, --theme)."""
    f = filters(o, categories=categories)
    return scope_resolve(
        FULL_ACCESS,
        area,
        period=period,
        sources=f["sources"],
        categories=(category,) if category else f.get("categories", ()),
        themes=f.get("themes", ()),
        generation=o.get("generation") or None,
        levels=levels,
    )


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
