"""Charts drawn on the server as plain SVG, and the map's colour classes.

Why SVG from Python rather than a JavaScript chart library: the chart is in the page as it
arrives (no script, nothing to wait for, prints as drawn), the same function can draw the
charts of printed and exported reports, and every plotted value carries ``data-month`` and
``data-value`` attributes, so tests (and screen-reader users, through the table beside each
chart) can read exactly what is drawn. See docs/dependencies.md.

Colours: the sequential viridis palette (Smith and van der Walt, 2015), which stays ordered
in greyscale and for the common colour-vision deficiencies; the line is GOV.UK blue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# viridis at five evenly spaced stops, light (low) to dark (high).
VIRIDIS_5 = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")
NO_DATA = "#f3f2f1"
LINE = "#1d70b8"
SECOND = "#0b0c0c"
GRID = "#b1b4b6"
TEXT = "#0b0c0c"
MUTED = "#505a5f"


@dataclass(frozen=True)
class ColourClass:
    low: float
    high: float
    colour: str

    def label(self, decimals: int) -> str:
        if decimals == 0:
            low, high = int(self.low), int(self.high)
            return f"{low:,}" if low == high else f"{low:,} to {high:,}"
        return f"{self.low:,.{decimals}f} to {self.high:,.{decimals}f}"


def quantile_classes(
    values: Sequence[float | None], k: int = 5, decimals: int = 0
) -> list[ColourClass]:
    """Up to ``k`` classes holding about equal numbers of areas, coloured light to dark."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return []
    factor = 10**decimals
    cuts: list[float] = []
    for i in range(1, k + 1):
        pos = (len(known) - 1) * i / k
        value = math.ceil(known[round(pos)] * factor) / factor
        if not cuts or value > cuts[-1]:
            cuts.append(value)
    step = 1 / factor
    lows = [math.floor(known[0] * factor) / factor] + [c + step for c in cuts[:-1]]
    palette = _palette(len(cuts))
    return [ColourClass(lo, hi, palette[i]) for i, (lo, hi) in enumerate(zip(lows, cuts))]


def _palette(n: int) -> tuple[str, ...]:
    if n >= len(VIRIDIS_5):
        return VIRIDIS_5
    picks = [round(i * (len(VIRIDIS_5) - 1) / max(n - 1, 1)) for i in range(n)]
    return tuple(VIRIDIS_5[i] for i in picks)


def colour_for(value: float | None, classes: Sequence[ColourClass]) -> str:
    if value is None or not classes:
        return NO_DATA
    for c in classes:
        if value <= c.high + 1e-9:
            return c.colour
    return classes[-1].colour


# ----------------------------------------------------------------------------------------
# Line chart


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per month; None where there are no data
    colour: str = LINE


def _nice_step(top: float, ticks: int = 5) -> float:
    raw = max(top, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return float(m * power)
    return float(10 * power)


def _month_label(m: date) -> str:
    return f"{m:%b %Y}"


def line_chart(
    months: Sequence[date],
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    y_label: str,
    chart_id: str = "trend",
) -> SafeString:
    """A monthly line chart; months without data are left as gaps and labelled."""
    width, height = 820, 320
    left, right, top, bottom = 70, 20, (48 if len(series) > 1 else 20), 70
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    step = _nice_step(peak)
    y_max = step * max(1, math.ceil(peak / step))
    n = max(len(months), 1)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}-svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    out += _axes(months, y_max, step, x, y, left, top, plot_w, plot_h, y_label)
    out += _gaps(months, series, x, top, plot_h, plot_w / n)
    for s in series:
        out += _series(s, months, x, y)
    if len(series) > 1:
        out += _legend(series, left, 22)
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped


def _axes(months, y_max, step, x, y, left, top, plot_w, plot_h, y_label) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    v = 0.0
    while v <= y_max + 1e-9:
        yy = y(v)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        label = f"{v:,.0f}" if step >= 1 else f"{v:,.1f}"
        out.append(
            f'<text x="{left - 8}" y="{yy + 5:.1f}" text-anchor="end" font-size="14">{label}</text>'
        )
        v += step
    every = max(1, math.ceil(len(months) / 12))
    base = top + plot_h
    for i, m in enumerate(months):
        if i % every:
            continue
        out.append(
            f'<text x="{x(i):.1f}" y="{base + 20}" text-anchor="end" font-size="13" '
            f'transform="rotate(-35 {x(i):.1f} {base + 20})">{_month_label(m)}</text>'
        )
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="{TEXT}"/>')
    out.append(
        f'<text x="16" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="14" '
        f'transform="rotate(-90 16 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    return out


def _gaps(months, series, x, top, plot_h, slot) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for i, _m in enumerate(months):
        if all(s.values[i] is None for s in series):
            out.append(
                f'<rect x="{x(i) - slot / 2:.1f}" y="{top}" width="{slot:.1f}" height="{plot_h}" '
                f'fill="{NO_DATA}" data-gap="1"/>'
            )
            out.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h - 6}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">no data</text>'
            )
    return out


def _series(s: Series, months: Sequence[date], x, y) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    run: list[str] = []
    runs = []
    for i, v in enumerate(s.values):
        if v is None:
            if run:
                runs.append(run)
            run = []
            continue
        run.append(f"{x(i):.1f},{y(v):.1f}")
    if run:
        runs.append(run)
    for r in runs:
        if len(r) > 1:
            out.append(
                f'<polyline points="{" ".join(r)}" fill="none" stroke="{s.colour}" '
                f'stroke-width="3"/>'
            )
    for i, v in enumerate(s.values):
        if v is None:
            continue
        value = f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
        out.append(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="{s.colour}" '
            f'data-series="{escape(s.name)}" data-month="{months[i]:%Y-%m}" data-value="{v:g}">'
            f"<title>{escape(s.name)}, {_month_label(months[i])}: {value}</title></circle>"
        )
    return out


def _legend(series: Sequence[Series], left: int, base: float) -> list[str]:
    out = []
    xx = left
    for s in series:
        out.append(
            f'<line x1="{xx}" x2="{xx + 24}" y1="{base - 5}" y2="{base - 5}" stroke="{s.colour}" '
            f'stroke-width="3"/>'
        )
        out.append(f'<text x="{xx + 30}" y="{base}" font-size="13">{escape(s.name)}</text>')
        xx += 40 + 8 * len(s.name)
    return out
