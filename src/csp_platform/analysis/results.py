"""What the analysis selectors return: frozen values a page, a report or a command can use.

The maths behind every number is in :mod:`csp_analytics`; these classes only carry the
library's results together with the area, the period and the months they cover, and turn
them into JSON-ready dicts (``json.dumps(..., allow_nan=False)`` works on every ``to_json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from csp_analytics.compare import FALL, NO_CHANGE, RISE, Finding, SiaTable
from csp_analytics.emerging import EmergingScan
from csp_analytics.hotspots import GiStarResult, Grid, KdeResult
from csp_analytics.rates import PeerComparison
from csp_analytics.repeats import KnoxResult, RepeatLocations
from csp_platform.analysis.loading import AreaRef, CategoryLabel
from csp_platform.analysis.periods import Period, month_label
from csp_platform.core.output import render
from csp_platform.incidents.scope import Coverage


def finite(x: Any) -> Any:
    """JSON-safe number: NaN and infinities become None; numpy scalars become Python."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def p_value_text(p: float | None) -> str:
    """A p- or q-value for a reader or a spreadsheet: two significant figures ("0.046",
    "0.50", "1.0"), "<0.001" below 0.001 (never "0.00"), "" when there is none."""
    if p is None or not math.isfinite(p):
        return ""
    if p < 0.001:
        return "<0.001"
    return f"{p:#.2g}"


#: Rises and falls differ in word and in symbol, not only in colour or sign.
DIRECTION_ICONS = {RISE: "▲", FALL: "▼", NO_CHANGE: "="}


def change_pct_text(direction: str, change_pct: float | None, current: int) -> str:
    """The change in the monthly rate as a signed percentage that never contradicts its
    direction: "+39%", "-57%", "+0.4%", "+<0.1%" (a rise too small to show as 0.1%),
    "0%" for no change, "new" when the baseline had none, "" when both periods had none.
    Whole percentages from 1% up, one decimal below, as in the findings."""
    if change_pct is None:
        return "new" if current else ""
    if direction == NO_CHANGE:
        return "0%"
    sign = "+" if direction == RISE else "-"
    size = abs(change_pct)
    if size < 0.05:
        return f"{sign}<0.1%"
    return f"{sign}{size:.1f}%" if size < 1 else f"{sign}{size:.0f}%"


def number_text(x: float | None) -> str:
    """A number for a CSV at full precision: the shortest decimal that reads back as the
    same float, never in exponent notation, "" when there is none (NaN, infinity)."""
    if x is None or not math.isfinite(x):
        return ""
    if float(x).is_integer():
        return str(int(x))
    return np.format_float_positional(float(x), trim="-")


def period_json(period: Period, label: str, cover: Coverage) -> dict[str, Any]:
    return {
        "first": month_label(period[0]),
        "last": month_label(period[1]),
        "label": label,
        "months_with_data": cover.n_months,
        "months": [month_label(m) for m in cover.months],
        "missing_months": list(cover.gap_labels()),
    }


# ----------------------------------------------------------------------------------------
# SIA


@dataclass(frozen=True)
class RepeatLocation:
    """A police.uk snap point (an anonymised map point, not an address) and its incidents."""

    location: str
    lon: float
    lat: float
    easting: float
    northing: float
    incidents: int


@dataclass(frozen=True)
class SubcategoryRow:
    """One value of the source's own category inside a canonical category."""

    category: str
    category_name: str
    subcategory: str
    current: int
    baseline: int
    share_of_category: float | None


#: The one layout of the SIA table as a CSV: the web download and ``csp sia --format csv``.
#: Counts, then monthly rates (count / months with data), then the one comparison of those
#: rates: change per month, percentage, direction, rate ratio, test and verdict.
SIA_EXPORT_COLUMNS = (
    "level", "theme", "theme_name", "category", "category_name",
    "baseline_months", "current_months", "baseline", "current",
    "baseline_per_month", "current_per_month", "change_per_month", "change_pct", "direction",
    "rate_ratio", "ci_low", "ci_high", "p_value", "q_value", "significant", "reading",
    "small_numbers", "share_of_theme", "share_change",
)  # fmt: skip
_EXPORT_NUMBERS = (
    "baseline_per_month", "current_per_month", "change_per_month", "change_pct",
    "rate_ratio", "ci_low", "ci_high", "share_of_theme", "share_change",
)  # fmt: skip


@dataclass(frozen=True)
class SiaReport:
    """The strategic intelligence assessment of one area: period against baseline.

    ``table`` is :func:`csp_analytics.compare.compare_periods` over the months with data in
    each period (``current`` and ``previous`` say which, and which months are gaps: a gap is
    left out and the comparison uses rates per month, never a zero). ``labels`` maps the
    category names in the table back to codes and themes.
    """

    area: AreaRef
    period: Period
    baseline: Period
    period_label: str
    baseline_label: str
    current: Coverage
    previous: Coverage
    sources: tuple[str, ...]
    table: SiaTable
    labels: dict[str, CategoryLabel]
    findings: tuple[Finding, ...]
    repeats: RepeatLocations
    top_locations: tuple[RepeatLocation, ...]
    subcategories: tuple[SubcategoryRow, ...]
    notes: tuple[str, ...]

    @property
    def current_months(self) -> int:
        return self.current.n_months

    @property
    def baseline_months(self) -> int:
        return self.previous.n_months

    def _codes(self, theme: str, category: str | None) -> dict[str, str | None]:
        if category is None:
            theme_code = next(v.theme_code for v in self.labels.values() if v.theme_name == theme)
            return {
                "theme": theme_code,
                "theme_name": theme,
                "category": None,
                "category_name": None,
            }
        label = self.labels[category]
        return {
            "theme": label.theme_code,
            "theme_name": label.theme_name,
            "category": label.code,
            "category_name": label.name,
        }

    def rows(self, level: str | None = None) -> list[dict[str, Any]]:
        """Table rows (theme rows each followed by its categories), codes and names."""
        out = []
        for rec, row in zip(self.table.to_records(), self.table.rows):
            if level and row.level != level:
                continue
            codes = self._codes(row.theme, row.category)
            out.append({**codes, **rec, **codes})
        return out

    def export_rows(self) -> list[dict[str, str]]:
        """The table in :data:`SIA_EXPORT_COLUMNS`, every value already text: numbers at
        full precision, p- and q-values to two significant figures ("<0.001" below)."""
        out = []
        for r in self.rows():
            row = {k: "" if r.get(k) is None else str(r[k]) for k in SIA_EXPORT_COLUMNS}
            row.update({k: number_text(r[k]) for k in _EXPORT_NUMBERS})
            row["p_value"] = p_value_text(r["p_value"])
            row["q_value"] = p_value_text(r["q_value"])
            row["baseline_months"] = str(self.baseline_months)
            row["current_months"] = str(self.current_months)
            out.append(row)
        return out

    def to_csv(self) -> str:
        """The SIA table as CSV text (header first, no final newline)."""
        return render(self.export_rows(), SIA_EXPORT_COLUMNS, "csv")

    def totals(self) -> dict[str, float]:
        """All incidents in each period (the theme rows added up) and per month with data."""
        themes = self.table.themes()
        current = sum(r.current for r in themes)
        baseline = sum(r.baseline for r in themes)
        return {
            "current": current,
            "baseline": baseline,
            "current_per_month": current / self.current_months,
            "baseline_per_month": baseline / self.baseline_months,
        }

    def findings_json(self) -> list[dict[str, Any]]:
        out = []
        for f in self.findings:
            codes = self._codes(f.theme, f.category)
            out.append(
                {
                    "text": f.text,
                    "level": f.level,
                    **codes,
                    "current": f.current,
                    "baseline": f.baseline,
                    "direction": f.direction,
                    "change_pct": finite(f.change_pct),
                    "share_of_theme": finite(f.share_of_theme),
                    "p_value": finite(f.p_value),
                    "q_value": finite(f.q_value),
                    "significant": f.significant,
                    "small_numbers": f.small_numbers,
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        r = self.repeats
        return {
            "area": self.area.as_dict(),
            "period": period_json(self.period, self.period_label, self.current),
            "baseline": period_json(self.baseline, self.baseline_label, self.previous),
            "sources": list(self.sources),
            "method": {
                "test": "exact conditional test for two Poisson counts, months as exposure",
                "multiple_testing": "Benjamini-Hochberg across every row",
                "alpha": self.table.alpha,
                "small_numbers": f"current + baseline < {self.table.small_number} or either "
                f"count < {self.table.small_cell}",
            },
            "categories": self.rows("category"),
            "themes": self.rows("theme"),
            "findings": self.findings_json(),
            "repeat_locations": {
                "caveats": list(r.caveats),
                "incidents_with_location": r.n_identified,
                "snap_points": r.n_keys,
                "repeat_snap_points": r.n_repeat_keys,
                "share_at_repeat_snap_points": finite(r.share_at_repeat_keys),
                "top": [vars(t) for t in self.top_locations],
            },
            "subcategories": [vars(s) for s in self.subcategories],
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------------------
# Rates and peers


@dataclass(frozen=True)
class AreaRate:
    """One area's count and rate over its months with data (``count`` None: no data)."""

    area: AreaRef
    incidents: int | None
    per_1000: float | None
    reason: str | None
    cover: Coverage

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.area.code,
            "name": self.area.name,
            "level": self.area.level,
            "generation": self.area.generation,
            "population": self.area.population,
            "incidents": self.incidents,
            "per_1000": finite(self.per_1000),
            "months_with_data": self.cover.n_months,
            "missing_months": " ".join(self.cover.gap_labels()),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RatesTable:
    """Counts and rates per 1,000 residents for the areas of one level over a period.

    Each area is counted over its own months with data (``months_with_data``): the months
    in which every source recording there has published.
    """

    level: str
    parent: AreaRef | None
    period: Period
    period_label: str
    rows: tuple[AreaRate, ...]
    notes: tuple[str, ...]

    def records(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "parent": self.parent.as_dict() if self.parent else None,
            "period": {
                "first": month_label(self.period[0]),
                "last": month_label(self.period[1]),
                "label": self.period_label,
            },
            "rates": self.records(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class PeerGroup:
    """The focus area against the rest of one group of peers (library result inside)."""

    name: str
    areas: tuple[AreaRef, ...]
    comparison: PeerComparison

    def to_json(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "group": self.name,
            "areas": [a.code for a in self.areas],
            "excluded": [list(e) for e in c.excluded],
            "focus_count": finite(c.focus_count),
            "focus_rate": finite(c.focus_rate),
            "rest_count": finite(c.rest_count),
            "rest_rate": finite(c.rest_rate),
            "group_pooled_rate": finite(c.group_pooled_rate),
            "group_mean_rate": finite(c.group_mean_rate),
            "rate_ratio": finite(c.rate_ratio),
            "ci_low": finite(c.ci_low),
            "ci_high": finite(c.ci_high),
            "p_value": finite(c.p_value),
            "rank": c.rank,
            "n_ranked": c.n_ranked,
        }


@dataclass(frozen=True)
class PartnershipAverage:
    """A partnership's average rate: pooled (residents' risk) and mean of its areas."""

    name: str
    level: str
    n_areas: int
    incidents: int
    population: int
    pooled_rate: float | None
    mean_rate: float | None


@dataclass(frozen=True)
class PeerReport:
    focus: AreaRef
    period: Period
    period_label: str
    coverage: Coverage
    focus_count: int
    focus_rate: float | None
    groups: tuple[PeerGroup, ...]
    partnerships: tuple[PartnershipAverage, ...]
    notes: tuple[str, ...]

    def sentences(self) -> list[str]:
        """Plain-English comparison, one sentence per group and partnership."""
        out = []
        rate = "no rate" if self.focus_rate is None else f"{self.focus_rate:.2f} per 1,000"
        for g in self.groups:
            c = g.comparison
            verdict = "clearly different" if c.p_value < 0.05 else "not clearly different"
            out.append(
                f"{self.focus.name}: {rate} residents against {c.rest_rate:.2f} for the rest of "
                f"{g.name} (rate ratio {c.rate_ratio:.2f}, 95% CI {c.ci_low:.2f}-"
                f"{c.ci_high:.2f}, {_p_text(c.p_value)}: {verdict}); rank {c.rank} of "
                f"{c.n_ranked}."
            )
        for p in self.partnerships:
            if p.pooled_rate is not None:
                out.append(
                    f"{p.name} average: {p.pooled_rate:.2f} per 1,000 residents pooled, "
                    f"{(p.mean_rate or 0):.2f} as the mean of its {p.n_areas} {p.level}s."
                )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "focus": self.focus.as_dict(),
            "period": period_json(self.period, self.period_label, self.coverage),
            "focus_count": self.focus_count,
            "focus_rate": finite(self.focus_rate),
            "groups": [g.to_json() for g in self.groups],
            "partnerships": [{k: finite(v) for k, v in vars(p).items()} for p in self.partnerships],
            "summary": self.sentences(),
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------------------
# Hotspots and near-repeats


@dataclass(frozen=True)
class HotspotCell:
    """A grid cell (south-west corner, EPSG:27700 metres) or a ward, with its figures."""

    key: str
    easting: float | None
    northing: float | None
    count: int
    value: float
    z: float | None
    p_adjusted: float | None
    hot: bool
    cold: bool


@dataclass(frozen=True)
class HotspotReport:
    """Hotspots of one area: kernel density or Gi* on a BNG grid, or Gi* on wards.

    ``cells`` holds the study-area cells (or wards) in grid order; ``value`` is the density
    in incidents per km² for ``kde`` and the count for Gi*.
    """

    area: AreaRef
    period: Period
    period_label: str
    coverage: Coverage
    method: str
    n_incidents: int
    cell_size: float | None
    grid: Grid | None
    cells: tuple[HotspotCell, ...]
    kde: KdeResult | None
    gi: GiStarResult | None
    notes: tuple[str, ...]

    def hot(self) -> tuple[HotspotCell, ...]:
        return tuple(c for c in self.cells if c.hot)

    def to_json(self) -> dict[str, Any]:
        return {
            "area": self.area.as_dict(),
            "period": period_json(self.period, self.period_label, self.coverage),
            "method": self.method,
            "crs": "EPSG:27700",
            "cell_size_m": self.cell_size,
            "n_incidents": self.n_incidents,
            "bandwidth_m": finite(self.kde.bandwidth_m) if self.kde else None,
            "bandwidth_rule": self.kde.bandwidth_rule if self.kde else None,
            "cells": [{k: finite(v) for k, v in vars(c).items()} for c in self.cells],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class KnoxReport:
    area: AreaRef
    period: Period
    period_label: str
    coverage: Coverage
    category: str
    result: KnoxResult

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "area": self.area.as_dict(),
            "period": period_json(self.period, self.period_label, self.coverage),
            "category": self.category,
            "events": r.n_events,
            "space_threshold_m": r.space_threshold_m,
            "time_threshold_months": r.time_threshold,
            "observed": r.observed,
            "expected": finite(r.expected),
            "ratio": finite(r.ratio),
            "p_value": finite(r.p_value),
            "permutations": r.permutations,
            "table": [{k: finite(v) for k, v in row.items()} for row in r.table.rows()],
            "caveats": list(r.caveats),
        }


# ----------------------------------------------------------------------------------------
# Ward profile


@dataclass(frozen=True)
class TrendPoint:
    """One month of a trend: counts per theme, or ``has_data`` False for a gap."""

    month: date
    has_data: bool
    total: int | None
    by_theme: dict[str, int]


@dataclass(frozen=True)
class WardProfile:
    """Everything the ward profile page shows, for one ward of one boundary generation."""

    ward: AreaRef
    parent: AreaRef | None
    sia: SiaReport
    trend: tuple[TrendPoint, ...]
    peers: PeerReport | None
    hotspots: HotspotReport | None
    emerging: EmergingScan | None
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ward": self.ward.as_dict(),
            "parent": self.parent.as_dict() if self.parent else None,
            "sia": self.sia.to_json(),
            "trend": [
                {
                    "month": month_label(t.month),
                    "has_data": t.has_data,
                    "total": t.total,
                    "by_theme": t.by_theme,
                }
                for t in self.trend
            ],
            "peers": self.peers.to_json() if self.peers else None,
            "hotspots": self.hotspots.to_json() if self.hotspots else None,
            "emerging": [
                {
                    "series": i.series_key,
                    "observed": i.observed,
                    "expected": i.expected,
                    "q_value": i.q_value,
                    "evidence": i.evidence,
                }
                for i in (self.emerging.issues if self.emerging else ())
            ],
            "notes": list(self.notes),
        }


def _p_text(p: float) -> str:
    """A p-value as a reader expects it: 'p < 0.001' rather than 'p = 0'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"
