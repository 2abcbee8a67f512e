"""Formatting filters every page may use."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from django import template

register = template.Library()


@register.filter
def thousands(value: Any) -> str:
    """1234 -> "1,234"; 12.5 -> "12.5"; None -> "–"."""
    if value is None or value == "":
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


@register.filter
def basename(value: Any) -> str:
    """A file's name without its folder (import batches record full paths)."""
    return PurePath(str(value or "")).name


@register.filter
def json_attr(value: Any) -> str:
    """JSON for a data-* attribute (autoescaping quotes it)."""
    return json.dumps(value)
