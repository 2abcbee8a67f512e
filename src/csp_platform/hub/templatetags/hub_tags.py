"""Small formatting filters for the hub's templates."""

from __future__ import annotations

from collections.abc import Sequence

from django import template

from csp_platform.hub.charts import ColourClass
from csp_platform.hub.selectors import MEASURES, TrendPoint

register = template.Library()


@register.filter
def months_covered(trend: Sequence[TrendPoint]) -> int:
    return sum(1 for p in trend if p.incidents is not None)


@register.filter
def measure_label(measure: str) -> str:
    return MEASURES.get(measure, measure)


@register.filter
def class_label(c: ColourClass, decimals: int) -> str:
    return c.label(int(decimals))


@register.filter
def percent(value: float | None) -> str:
    """0.429 -> "42.9%"; 0.05 -> "5%"."""
    if value is None:
        return "–"
    pct = 100 * float(value)
    return f"{pct:.0f}%" if pct.is_integer() else f"{pct:.1f}%"


METHOD_NAMES = {
    "last_month": "last month's map",
    "last_12_months": "last year's map (12 months)",
    "long_run_average": "long-run average",
    "prospective": "prospective (recent and near, weighted)",
    "blend": "smoothed blend",
    "ranker": "learned ranker",
    "sepp": "self-exciting model",
}


@register.filter
def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method)
