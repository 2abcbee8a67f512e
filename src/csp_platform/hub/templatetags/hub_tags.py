"""Small formatting filters for the hub's templates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join

from csp_platform.analysis.results import DIRECTION_ICONS, change_pct_text, p_value_text
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


# ----------------------------------------------------------------------------------------
# SIA rows: the direction of the monthly rate, in symbol, sign and word (never colour alone)


@register.simple_tag
def sia_change(row: dict[str, Any]) -> str:
    """The change in the monthly rate: a symbol (hidden from screen readers, which read the
    sign) and the signed percentage, e.g. "▲ +39%"; "–" when both periods had none."""
    text = change_pct_text(row["direction"], row["change_pct"], row["current"])
    if not text:
        return "–"
    return format_html(
        '<span class="csp-direction" aria-hidden="true">{}</span> {}',
        DIRECTION_ICONS[row["direction"]],
        text,
    )


@register.simple_tag
def sia_reading(row: dict[str, Any]) -> str:
    """The verdict badge: "▲ Significant rise" or "▼ Significant fall" (different word,
    symbol and colour), "Not significant", and a "Small numbers" caution when it applies."""
    parts = []
    if row["significant"] and row["direction"] in ("rise", "fall"):
        parts.append(
            format_html(
                '<strong class="govuk-tag govuk-tag--{} csp-tag-{}" data-marker="significant" '
                'data-direction="{}"><span aria-hidden="true">{}</span> {}</strong>',
                "orange" if row["direction"] == "rise" else "turquoise",
                row["direction"],
                row["direction"],
                DIRECTION_ICONS[row["direction"]],
                row["reading"][:1].upper() + row["reading"][1:],
            )
        )
    else:
        parts.append(format_html('<span class="csp-muted">{}</span>', "Not significant"))
    if row["small_numbers"]:
        parts.append(
            format_html(
                '<strong class="govuk-tag govuk-tag--grey" data-marker="small">{}</strong>',
                "Small numbers",
            )
        )
    return format_html_join(" ", "{}", ((p,) for p in parts))


@register.filter
def p_value(value: float | None) -> str:
    """A p- or q-value to two significant figures, "<0.001" below 0.001."""
    return p_value_text(value)
