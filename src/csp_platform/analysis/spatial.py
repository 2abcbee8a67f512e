"""Selectors for maps: hotspots, near-repeats, next month's forecast and its backtest.

Re-exported by :mod:`csp_platform.analysis.selectors`, the one place callers import from.
Grids are aligned squares on the British National Grid (EPSG:27700) covering the area's
outline; the study-area mask keeps the cells the outline covers (``Grid.mask``, "intersects").
No maths here: :mod:`csp_analytics.hotspots`, ``repeats`` and ``forecast`` do it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from csp_analytics.forecast import (
    METHOD_NAMES,
    METHODS,
    Backtest,
    GridForecast,
    backtest,
    forecast,
    last_months,
)
from csp_analytics.hotspots import (
    GiStarResult,
    Grid,
    KdeResult,
    contiguity_weights,
    getis_ord_gi_star,
    grid_counts,
    grid_weights,
    kde_grid,
)
from csp_analytics.repeats import knox_test
from csp_platform.analysis import loading
from csp_platform.analysis.loading import AreaRef, Points
from csp_platform.analysis.periods import (
    Period,
    month_label,
    month_number,
    period_check,
    period_label,
    period_months,
)
from csp_platform.analysis.results import HotspotCell, HotspotReport, KnoxReport
from csp_platform.areas.models import Area
from csp_platform.areas.selectors import area_geometry
from csp_platform.core.errors import BadQuery
from csp_platform.incidents.scope import Coverage, Scope

HOTSPOT_METHODS = ("kde", "gistar-ward", "gistar-grid")
MAX_GRID_CELLS = 2_000_000
MIN_CELL_SIZE = 10.0


def grid_for(area: Area, cell_size: float) -> tuple[Grid, npt.NDArray[np.bool_]]:
    """An aligned BNG grid over the area, and its study-area mask."""
    try:
        size = float(cell_size)
    except (TypeError, ValueError):
        size = float("nan")
    if not np.isfinite(size) or size < MIN_CELL_SIZE:
        raise BadQuery(f"--cell-size must be at least {MIN_CELL_SIZE:g} metres, not {cell_size}")
    outline = loading.area_bng(area)
    grid = Grid.covering(outline.bounds, size)
    if grid.n_cells > MAX_GRID_CELLS:
        raise BadQuery(
            f"a {size:g} m grid over {area.name} has {grid.n_cells:,} cells; "
            "use a larger --cell-size"
        )
    return grid, grid.mask(outline)


def _period_points(
    scope: Scope, period: Period, *, counted: bool = False
) -> tuple[Coverage, Points]:
    """Located incidents of the period's months with data (``counted``: see
    :func:`loading.points`)."""
    period_check(period, "--period")
    counts = loading.monthly_counts(scope, *period)
    cover, _ = loading.covered(scope, counts, period_months(period), "--period")
    pts = loading.points(scope, *period, counted=counted)
    keep = np.isin(pts.month, cover.month_numbers)
    return cover, Points(pts.e[keep], pts.n[keep], pts.month[keep], pts.category_id[keep])


# ----------------------------------------------------------------------------------------
# Hotspots


def hotspots_for_area(
    scope: Scope,
    period: Period,
    *,
    cell_size: float = 250,
    method: str = "kde",
    bandwidth: float | None = None,
    permutations: int = 999,
    seed: int = 0,
) -> HotspotReport:
    """Hotspots of an area over the months of a period with data.

    ``kde``: quartic kernel density at the centres of a BNG grid; the bandwidth is
    Silverman's rule unless given (docs/analytics/hotspots-grid-kde.md: the rule suits a
    district overview; give 200-400 m for a street-level map). ``gistar-grid``: Getis-Ord
    Gi* on the cells' counts, queen neighbours, Benjamini-Hochberg across cells.
    ``gistar-ward``: Gi* on the counts of the district's wards (a ward: its district's).
    """
    if method not in HOTSPOT_METHODS:
        raise BadQuery(f"--method must be one of {', '.join(HOTSPOT_METHODS)}, not {method!r}")
    if method == "gistar-ward":
        return _gistar_wards(scope, period, permutations, seed)
    cover, pts = _period_points(scope, period, counted=True)
    grid, mask = grid_for(scope.the_area, cell_size)
    counts = grid_counts(pts.e, pts.n, grid).ravel()
    flat = np.flatnonzero(mask.ravel())
    notes = [n for n in (cover.note("--period"),) if n]
    kde, gi = None, None
    if method == "kde":
        kde = _kde(pts, grid, bandwidth)
        values = kde.density.ravel()[flat]
        notes.append(
            f"Quartic kernel, bandwidth {kde.bandwidth_m:,.0f} m ({kde.bandwidth_rule}); "
            "values are incidents per km²."
        )
    else:
        values = counts[flat].astype(float)
        gi = _gi(values, grid_weights(grid, mask), permutations, seed)
        notes += gi.notes
    x, y = grid.sw_corners()
    cells = tuple(
        _cell(f"{x[i]:.0f},{y[i]:.0f}", (float(x[i]), float(y[i])), int(counts[i]), values, j, gi)
        for j, i in enumerate(flat)
    )
    return HotspotReport(
        area=AreaRef.of(scope.the_area),
        period=period,
        period_label=period_label(period),
        coverage=cover,
        method=method,
        n_incidents=pts.size,
        cell_size=grid.size,
        grid=grid,
        cells=cells,
        kde=kde,
        gi=gi,
        notes=tuple(notes),
    )


def _cell(
    key: str,
    corner: tuple[float | None, float | None],
    count: int,
    values: npt.NDArray[np.float64],
    j: int,
    gi: GiStarResult | None,
) -> HotspotCell:
    if gi is None:
        return HotspotCell(key, *corner, count, float(values[j]), None, None, False, False)
    z = float(gi.z[j])
    return HotspotCell(
        key,
        *corner,
        count,
        float(values[j]),
        z,
        float(gi.p_adjusted[j]),
        bool(gi.hot[j]),
        bool(gi.cold[j]),
    )


def _kde(pts: Points, grid: Grid, bandwidth: float | None) -> KdeResult:
    if bandwidth is None and pts.size < 2:
        raise BadQuery("too few incidents for a density map without --bandwidth")
    try:
        return kde_grid(pts.e, pts.n, grid, bandwidth=bandwidth)
    except ValueError as exc:
        raise BadQuery(f"no density map: {exc}") from None


def _gi(
    values: npt.NDArray[np.float64], weights: Any, permutations: int, seed: int
) -> GiStarResult:
    try:
        return getis_ord_gi_star(values, weights, permutations=permutations, seed=seed)
    except ValueError as exc:
        raise BadQuery(f"Gi* cannot be computed here: {exc}") from None


def _gistar_wards(scope: Scope, period: Period, permutations: int, seed: int) -> HotspotReport:
    period_check(period, "--period")
    area = scope.the_area
    district = area if area.level == "district" else area.parent
    if district is None or area.level not in ("ward", "district"):
        raise BadQuery("gistar-ward needs a district, or a ward with a parent district")
    wards = loading.child_wards(dataclasses.replace(scope, area=district, linked=True))
    months = period_months(period)
    cover, _ = loading.covered(scope, loading.monthly_counts(scope, *period), months, "--period")
    totals, per_area = loading.area_totals(wards, scope, months)
    counts = [totals[w.pk].over(cover.months, per_area[w.pk]) for w in wards]
    if any(n is None for n in counts):
        raise BadQuery("Gi* needs every ward counted over the same months with data")
    values = np.array(counts, dtype=float)
    gi = _gi(values, contiguity_weights([area_geometry(w) for w in wards]), permutations, seed)
    cells = tuple(
        _cell(w.code, (None, None), int(values[j]), values, j, gi) for j, w in enumerate(wards)
    )
    notes = [n for n in (cover.note("--period"),) if n]
    notes.append(
        f"Gi* on the incident counts of the {len(wards)} wards of {district.name} "
        f"(generation {wards[0].generation}), queen contiguity."
    )
    return HotspotReport(
        area=AreaRef.of(scope.the_area),
        period=period,
        period_label=period_label(period),
        coverage=cover,
        method="gistar-ward",
        n_incidents=int(values.sum()),
        cell_size=None,
        grid=None,
        cells=cells,
        kde=None,
        gi=gi,
        notes=(*notes, *gi.notes),
    )


def knox_for_area(
    scope: Scope,
    period: Period,
    *,
    space_threshold_m: float = 200.0,
    time_threshold: int = 0,
    permutations: int = 999,
    seed: int = 0,
) -> KnoxReport:
    """Knox near-repeat test for the scope's category (the command's default: burglary).

    police.uk gives months and snap points, so only month-scale patterns can show; the
    result's caveats say so. Defaults: 200 m (about the snap-point blur) and the same month.
    """
    category = ", ".join(scope.categories) or "all categories"
    cover, pts = _period_points(scope, period)
    result = knox_test(
        pts.e,
        pts.n,
        pts.month,
        space_threshold_m=space_threshold_m,
        time_threshold=time_threshold,
        permutations=permutations,
        seed=seed,
    )
    return KnoxReport(
        AreaRef.of(scope.the_area), period, period_label(period), cover, category, result
    )


# ----------------------------------------------------------------------------------------
# Forecasts


def _history(scope: Scope, through: date) -> tuple[Points, Coverage]:
    """Located incidents of the area up to ``through``, and the months with data.

    The query stops at ``through``: the month being forecast is never read.
    """
    counts = loading.monthly_counts(scope, None, through)
    if counts.height == 0:
        raise BadQuery(f"no incidents in {scope.the_area.name} up to {month_label(through)}")
    first = min(counts["month"].to_list())
    cover, _ = loading.covered(scope, counts, period_months((first, through)), "history")
    return loading.points(scope, None, through), cover


def forecast_for_area(
    scope: Scope,
    through: date,
    cell_size: float,
    method: str = "blend",
) -> GridForecast:
    """Next month's hotspots: the area's grid cells ranked for the month after ``through``.

    :func:`csp_analytics.forecast.forecast` on every located incident up to ``through``
    (nothing later is read), with the months that have data as ``observed_months``.
    """
    if method not in METHODS:
        raise BadQuery(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    grid, mask = grid_for(scope.the_area, cell_size)
    pts, cover = _history(scope, through)
    return forecast(
        pts.e,
        pts.n,
        pts.month,
        grid,
        through=month_number(through),
        method=method,
        mask=mask,
        observed_months=cover.month_numbers,
        category=_categories(pts),
    )


def _categories(pts: Points) -> npt.NDArray[np.int64] | None:
    """Each incident's category (the ranker's category-mix features), when loaded."""
    return pts.category_id if pts.category_id.size == pts.size else None


def backtest_for_area(
    scope: Scope,
    month_from: date | None,
    month_to: date,
    cell_size: float,
    methods: Sequence[str] = METHODS,
    *,
    last_n: int | None = None,
) -> Backtest:
    """Forecast each month from ``month_from`` to ``month_to`` from the months before it and
    score hit rate and PAI at 1, 5 and 10% of the area
    (:func:`csp_analytics.forecast.backtest`). Gaps are skipped and listed, never scored.

    With ``last_n`` instead of ``month_from``: the last ``last_n`` months with data up to
    ``month_to`` (a rolling origin over the last N months)."""
    if last_n is not None and last_n < 1:
        raise BadQuery(f"--months must be at least 1, not {last_n}")
    if month_from is None and last_n is None:
        raise BadQuery("give --from or --months")
    if month_from is not None:
        period_check((month_from, month_to), "--from/--to")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise BadQuery(f"--method must be from {', '.join(METHODS)}, not {', '.join(unknown)}")
    grid, mask = grid_for(scope.the_area, cell_size)
    pts, cover = _history(scope, month_to)
    if month_from is None:
        months = last_months(cover.month_numbers, month_number(month_to), int(last_n or 12))
    else:
        months = [month_number(m) for m in period_months((month_from, month_to))]
    return backtest(
        pts.e,
        pts.n,
        pts.month,
        grid,
        months=months,
        methods=tuple(methods),
        mask=mask,
        observed_months=cover.month_numbers,
        category=_categories(pts),
    )


@dataclass(frozen=True)
class ForecastChoice:
    """A forecast by the method that did best in the area's own backtest, with that
    backtest: the page and ``csp forecast --method auto`` show these together."""

    forecast: GridForecast
    backtest: Backtest
    coverage: float
    best_naive: str | None

    def _hit(self, method: str) -> float:
        j = self.backtest.coverages.index(self.coverage)
        return float(self.backtest.mean_hit_rate()[self.backtest.methods.index(method), j])

    def sentence(self) -> str:
        """The choice in words, e.g. "This forecast uses the learned ranker; over the last
        12 months with data it found 41% of incidents in 5% of the area, against 37% for
        last year's map." """
        method = self.forecast.method
        n = len(self.backtest.months)
        span = f"over the last {n} month{'s' if n != 1 else ''} with data"
        found = f"it found {100 * self._hit(method):.0f}% of incidents in {self.coverage:.0%}"
        head = f"This forecast uses {METHOD_NAMES[method]}"
        if self.best_naive is None or self.best_naive == method:
            return f"{head}; {span} {found} of the area, and no other method did better."
        return (
            f"{head}; {span} {found} of the area, against "
            f"{100 * self._hit(self.best_naive):.0f}% for {METHOD_NAMES[self.best_naive]}."
        )


def best_forecast_for_area(
    scope: Scope,
    through: date,
    cell_size: float,
    *,
    months: int = 12,
    coverage: float = 0.05,
) -> ForecastChoice:
    """Backtest every method over the last ``months`` months with data up to ``through``,
    then forecast the month after ``through`` by the method with the best mean PAI at
    ``coverage`` (naive baselines included: if a naive map did best, it is used)."""
    test = backtest_for_area(scope, None, through, cell_size, METHODS, last_n=months)
    if not test.months:
        raise BadQuery(f"no month in the {months} up to the forecast has data to score")
    best = test.best(coverage)
    fc = forecast_for_area(scope, through, cell_size, best)
    return ForecastChoice(fc, test, coverage, test.best_naive(coverage))
