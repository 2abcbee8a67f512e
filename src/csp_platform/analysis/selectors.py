"""Reads for analysis: the incident store in, :mod:`csp_analytics` results out.

No maths here: every figure is computed by the library (SIA comparison, rates and peers,
emerging issues, hotspots, near-repeats, forecasts). These functions choose the incidents
(area, months, sources, categories), decide which months have data, and package the
library's result with the area and period it describes. They are the one code path behind
the ``csp`` analysis commands and the analysis pages. The map selectors (hotspots,
near-repeats, forecasts) live in :mod:`csp_platform.analysis.spatial` and are re-exported.

Conventions (docs/analytics/README.md):

* periods are whole months, both ends included; a month a contributing source has not
  published is a **gap**: left out and reported, never counted as zero;
* ward figures name their boundary generation;
* coordinates for grids and distances are British National Grid metres (EPSG:27700).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar, cast

import numpy as np
import polars as pl

from csp_analytics.compare import CategoryCounts, compare_periods, findings
from csp_analytics.emerging import EmergingScan, emerging_issues
from csp_analytics.geo import to_bng
from csp_analytics.rates import peer_comparison, rate_per_1000
from csp_analytics.repeats import RepeatLocations, repeat_locations, repeat_locations_counted
from csp_platform.analysis import loading
from csp_platform.analysis.loading import AreaRef, CategoryLabel
from csp_platform.analysis.periods import (
    Period,
    add_months,
    month_label,
    period_check,
    period_label,
    period_months,
)
from csp_platform.analysis.results import (
    AreaRate,
    PartnershipAverage,
    PeerGroup,
    PeerReport,
    RatesTable,
    RepeatLocation,
    SiaReport,
    SubcategoryRow,
    TrendPoint,
    WardProfile,
)
from csp_platform.analysis.spatial import (
    HOTSPOT_METHODS,
    ForecastChoice,
    backtest_for_area,
    best_forecast_for_area,
    forecast_for_area,
    hotspots_for_area,
    knox_for_area,
)
from csp_platform.areas.models import Area
from csp_platform.core.errors import BadQuery
from csp_platform.core.models import Partnership
from csp_platform.incidents.scope import (
    FULL_ACCESS,
    Coverage,
    Scope,
    areas_of_level,
    source_ids,
)

__all__ = [
    "HOTSPOT_METHODS",
    "ForecastChoice",
    "backtest_for_area",
    "best_forecast_for_area",
    "emerging_for_area",
    "forecast_for_area",
    "hotspots_for_area",
    "knox_for_area",
    "peer_comparison_for",
    "rates_for_areas",
    "sia_for_area",
    "ward_profile",
]

T = TypeVar("T")

#: A district belongs to the force area of the sources that record in the focus area when it
#: holds at least this share of their incidents that fall in any district. A force's stray
#: rows in neighbouring districts are a fraction of a per cent; its smallest district is far
#: above it (Hartlepool holds about 18% of Cleveland's).
FORCE_AREA_MIN_SHARE = 0.01
TOP_LOCATIONS = 10


# ----------------------------------------------------------------------------------------
# SIA


def sia_for_area(
    scope: Scope,
    period: Period,
    baseline: Period,
    *,
    details: bool = True,
) -> SiaReport:
    """The SIA table for the scope's area: every category and theme, period against baseline.

    Counts are the incidents recorded in the area in the months of each period that have
    data; :func:`csp_analytics.compare.compare_periods` compares them with those numbers
    of months as exposures, and :func:`csp_analytics.compare.findings` words them. With
    ``details`` the report also holds the period's top repeat locations (police.uk snap
    points: map points, not addresses) and sub-category breakdowns where a category holds
    several of a source's own categories.
    """
    period_check(period, "--period")
    period_check(baseline, "--baseline")
    if period[0] <= baseline[1] and baseline[0] <= period[1]:
        raise BadQuery("--period and --baseline overlap: compare two separate runs of months")
    now, cur = _category_totals(scope, period, "--period")
    before, base = _category_totals(scope, baseline, "--baseline")
    labels = loading.category_labels()
    ids = sorted(set(now) | set(before), key=lambda c: labels[c].order)
    rows = [
        CategoryCounts(labels[c].name, labels[c].theme_name, now.get(c, 0), before.get(c, 0))
        for c in ids
        if now.get(c, 0) or before.get(c, 0)
    ]
    table = compare_periods(rows, current_months=cur.n_months, baseline_months=base.n_months)
    p_label, b_label = period_label(period), period_label(baseline)
    words = findings(
        table, area_name=scope.the_area.name, period_label=p_label, baseline_label=b_label
    )
    repeats, top = _repeat_locations(scope, cur if details else None)
    return SiaReport(
        area=AreaRef.of(scope.the_area),
        period=period,
        baseline=baseline,
        period_label=p_label,
        baseline_label=b_label,
        current=cur,
        previous=base,
        sources=tuple(sorted(set(cur.sources) | set(base.sources))),
        table=table,
        labels={labels[c].name: labels[c] for c in ids},
        findings=tuple(words),
        repeats=repeats,
        top_locations=top,
        subcategories=_subcategories(scope, cur, base, labels) if details else (),
        notes=_sia_notes(cur, base),
    )


def _category_totals(
    scope: Scope, period: Period, what: str
) -> tuple[dict[int | None, int], Coverage]:
    """Incidents per category over the period's months with data."""
    counts = loading.monthly_counts(scope, *period)
    cover, kept = loading.covered(scope, counts, period_months(period), what)
    totals = kept.group_by("category_id").agg(pl.col("n").sum())
    return {c: int(n) for c, n in totals.iter_rows()}, cover


def _sia_notes(cur: Coverage, base: Coverage) -> tuple[str, ...]:
    notes = [n for n in (cur.note("--period"), base.note("--baseline")) if n]
    if cur.n_months != base.n_months:
        notes.append(
            f"The periods have {cur.n_months} and {base.n_months} months with data: changes "
            "are in the average per month, tested with the months as exposures."
        )
    return tuple(notes)


def _repeat_locations(
    scope: Scope, cover: Coverage | None
) -> tuple[RepeatLocations, tuple[RepeatLocation, ...]]:
    """Repeat snap points over the months of ``cover`` (empty when it is None).

    The database counts incidents per snap point (location text and point); the library
    gets the count of each snap point under a short string key numbered in (text, point)
    order, so its ties (ordered by key) fall in that order too.
    """
    if cover is None:
        return repeat_locations([], top=TOP_LOCATIONS), ()
    keys = ("location_text", "lon", "lat")
    points = loading.grouped(scope, cover.months, keys, located=True).sort(list(keys))
    result = repeat_locations_counted(
        {f"{i:09d}": int(n) for i, n in enumerate(points["n"])}, top=TOP_LOCATIONS
    )
    rows = [(points.row(int(cast(str, k))), n) for k, n in result.top]
    east, north = to_bng(np.array([r[1] for r, _ in rows]), np.array([r[2] for r, _ in rows]))
    top = tuple(
        RepeatLocation(str(r[0]), float(r[1]), float(r[2]), float(e), float(n_), n)
        for (r, n), e, n_ in zip(rows, east, north)
    )
    return result, top


def _subcategories(
    scope: Scope, cur: Coverage, base: Coverage, labels: dict[int | None, CategoryLabel]
) -> tuple[SubcategoryRow, ...]:
    """The source's own categories inside each canonical category that holds several."""
    counts: dict[int | None, dict[str, list[int]]] = {}
    for i, cover in enumerate((cur, base)):
        frame = loading.subcategory_counts(scope, cover.months)
        for cat, sub, n in frame.iter_rows():
            counts.setdefault(cat, {}).setdefault(sub, [0, 0])[i] += int(n)
    out = []
    for cat in sorted(counts, key=lambda c: labels[c].order):
        if len(counts[cat]) < 2:
            continue
        total = sum(pair[0] for pair in counts[cat].values())
        for sub, (now, before) in sorted(counts[cat].items(), key=lambda s: (-s[1][0], s[0])):
            share = now / total if total else None
            out.append(SubcategoryRow(labels[cat].code, labels[cat].name, sub, now, before, share))
    return tuple(out)


# ----------------------------------------------------------------------------------------
# Rates and peers


def _populations(areas: Sequence[Area]) -> list[float]:
    return [float(a.population) if a.population is not None else np.nan for a in areas]


def rates_for_areas(scope: Scope, level: str, period: Period) -> RatesTable:
    """Incidents and rates per 1,000 residents for the areas of a level (newest generation;
    wards of the scope's generation) that the scope's reader may see.

    A scope with a district keeps that district's areas. Each area is counted over its months with
    data (the months in which every source recording there has published; an area whose
    sources have no data for the period gets no count and no rate, never a zero), and
    :func:`csp_analytics.rates.rate_per_1000` gives the rate, not annualised, or says why
    there is none.
    """
    period_check(period, "--period")
    parent = scope.area
    if parent is not None and parent.level != "district":
        raise BadQuery(f"--parent {parent.code} is a {parent.level}, not a district")
    areas = loading.level_areas(level, scope, parent)
    totals, _ = loading.area_totals(areas, scope, period_months(period))
    counts = np.array([np.nan if totals[a.pk].count is None else totals[a.pk].count for a in areas])
    rates = rate_per_1000(counts, _populations(areas))
    rows = tuple(
        AreaRate(
            area=AreaRef.of(a),
            incidents=totals[a.pk].count,
            per_1000=None if why else float(r),
            reason="no data for the period" if totals[a.pk].count is None else why,
            cover=totals[a.pk].cover,
        )
        for a, r, why in zip(areas, rates.per_1000, rates.reasons)
    )
    notes = _gap_notes(rows)
    notes.append(
        "Rates are incidents per 1,000 residents over each area's months with data (not "
        "annualised); population is the census resident population of the area."
    )
    parent_ref = AreaRef.of(parent) if parent else None
    return RatesTable(level, parent_ref, period, period_label(period), rows, tuple(notes))


def _gap_notes(rows: Sequence[AreaRate]) -> list[str]:
    """One note per distinct set of missing months, saying how many areas it affects."""
    seen: dict[str, int] = {}
    for row in rows:
        note = row.cover.note("--period")
        if note:
            seen[note] = seen.get(note, 0) + 1
    return [f"{n} of {len(rows)} areas, {note}" for note, n in seen.items()]


def peer_comparison_for(scope: Scope, period: Period) -> PeerReport:
    """Compare a ward's or district's rate per 1,000 residents with its peers.

    A ward is compared with the rest of its district's wards and with the rest of the wards
    of its force area; a district with the rest of its force area's districts. The force
    area is the districts holding at least 1% of the incidents that the sources recording in
    the focus area record in any district. Every area is counted over the focus area's
    months with data; a peer without data in one of them is left out. Each comparison is
    :func:`csp_analytics.rates.peer_comparison` (exact conditional Poisson test against the
    rest, pooled). The average of every partnership covering the area is added.
    """
    period_check(period, "--period")
    focus = scope.the_area
    if focus.level not in ("ward", "district"):
        raise BadQuery(
            f"{focus.code} is a {focus.level}: peers are compared for wards and districts"
        )
    if not focus.population:
        raise BadQuery(f"{focus.name} has no population: run `csp import-population` first")
    cover, _ = loading.covered(
        scope, loading.monthly_counts(scope, *period), period_months(period), "--period"
    )
    scope = scope.with_sources(source_ids(cover.sources))
    groups_spec = _peer_groups(focus, _force_districts(scope, period))
    everyone = list({a.pk: a for _, group in groups_spec for a in [focus, *group]}.values())
    counts = _counts_over(everyone, scope, cover)
    groups, notes = [], [n for n in (cover.note("--period"),) if n]
    for name, group in groups_spec:
        try:
            groups.append(_peer_group(name, group, focus, counts))
        except ValueError as exc:
            notes.append(f"No comparison with {name}: {exc}.")
    focus_count = int(counts[focus.pk])
    return PeerReport(
        focus=AreaRef.of(focus),
        period=period,
        period_label=period_label(period),
        coverage=cover,
        focus_count=focus_count,
        focus_rate=1000 * focus_count / focus.population,
        groups=tuple(groups),
        partnerships=_partnership_averages(focus, scope, cover),
        notes=tuple(notes),
    )


def _counts_over(areas: Sequence[Area], scope: Scope, cover: Coverage) -> dict[int, float]:
    """Each area's count over exactly the months of ``cover``; NaN where it lacks one."""
    totals, per_area = loading.area_totals(
        areas, scope, period_months((cover.months[0], cover.months[-1]))
    )
    out = {}
    for a in areas:
        n = totals[a.pk].over(cover.months, per_area[a.pk])
        out[a.pk] = np.nan if n is None else float(n)
    return out


def _force_districts(scope: Scope, period: Period) -> list[Area]:
    """Districts holding at least FORCE_AREA_MIN_SHARE of the scope sources' incidents.

    Peer groups are aggregate comparisons over the whole force area, the same for every
    reader (a partnership compares itself with its neighbours)."""
    districts = areas_of_level("district", FULL_ACCESS)
    per_area = loading.counts_by_area(districts, scope, *period)
    totals = {area_id: int(f["n"].sum()) for area_id, f in per_area.items()}
    grand = sum(totals.values())
    return [d for d in districts if grand and totals[d.pk] >= FORCE_AREA_MIN_SHARE * grand]


def _peer_groups(focus: Area, force: list[Area]) -> list[tuple[str, list[Area]]]:
    if focus.level == "district":
        return [("the districts of its force area", force)]
    wards = Area.objects.filter(level="ward", generation=focus.generation).order_by("code")
    groups = []
    if focus.parent is not None:
        groups.append(
            (f"the wards of {focus.parent.name}", list(wards.filter(parent=focus.parent)))
        )
    groups.append(("the wards of its force area", list(wards.filter(parent__in=force))))
    return groups


def _peer_group(name: str, group: list[Area], focus: Area, counts: dict[int, float]) -> PeerGroup:
    members = group if focus in group else [focus, *group]
    comparison = peer_comparison(
        [a.code for a in members],
        [counts[a.pk] for a in members],
        _populations(members),
        focus=focus.code,
    )
    return PeerGroup(name, tuple(AreaRef.of(a) for a in members), comparison)


def _partnership_averages(
    focus: Area, scope: Scope, cover: Coverage
) -> tuple[PartnershipAverage, ...]:
    """Pooled and mean rates of each partnership covering the focus area's district."""
    district = focus if focus.level == "district" else focus.parent
    out = []
    for partnership in Partnership.objects.filter(districts=district).order_by("name"):
        members = list(partnership.districts.order_by("code"))
        if focus.level == "ward":
            members = list(
                Area.objects.filter(level="ward", generation=focus.generation)
                .filter(parent__in=members)
                .order_by("code")
            )
        counts = _counts_over(members, scope, cover)
        rates = rate_per_1000([counts[a.pk] for a in members], _populations(members))
        ok = np.array([r is None for r in rates.reasons], dtype=bool)
        n, pop = float(rates.counts[ok].sum()), float(rates.population[ok].sum())
        out.append(
            PartnershipAverage(
                name=partnership.name,
                level=focus.level,
                n_areas=int(ok.sum()),
                incidents=int(n),
                population=int(pop),
                pooled_rate=1000 * n / pop if pop else None,
                mean_rate=float(rates.per_1000[ok].mean()) if ok.any() else None,
            )
        )
    return tuple(out)


# ----------------------------------------------------------------------------------------
# Emerging issues


def emerging_for_area(
    scope: Scope,
    month: date,
    *,
    by: str = "ward",
    history_months: int = 36,
) -> EmergingScan:
    """Wards (``by="ward"``) or categories (``by="category"``) of an area above their
    expected level in ``month`` given their own history and season
    (:func:`csp_analytics.emerging.emerging_issues`, Benjamini-Hochberg across series).

    A month in which a contributing source has no data is NaN (a gap, never a zero); a
    month with data but no incident in a series is a true zero.
    """
    if by not in ("ward", "category"):
        raise BadQuery(f"--by must be ward or category, not {by!r}")
    months = period_months((add_months(month, -history_months), month))
    series = _ward_series(scope, months) if by == "ward" else _category_series(scope, months)
    frames = [f for _, _, f in series if f.height]
    everything = pl.concat(frames) if frames else pl.DataFrame(schema=loading.COUNT_SCHEMA)
    cover, _ = loading.covered(scope, everything, months, "--month")
    if month not in cover.months:
        raise BadQuery(
            f"{month_label(month)} has no data ({', '.join(cover.gaps[month])}): "
            "a missing month cannot be assessed"
        )
    column = {m: i for i, m in enumerate(months)}
    matrix = np.full((len(series), len(months)), np.nan)
    matrix[:, [column[m] for m in cover.months]] = 0.0
    for row, (_, _, frame) in enumerate(series):
        for m, n in frame.group_by("month").agg(pl.col("n").sum()).iter_rows():
            if m in cover.gaps:
                continue
            matrix[row, column[m]] = n
    return emerging_issues(
        matrix,
        np.array([month_label(m) for m in months], dtype="datetime64[M]"),
        [key for key, _, _ in series],
        groups=[group for _, group, _ in series],
        month=month_label(month),
    )


def _ward_series(scope: Scope, months: list[date]) -> list[tuple[str, str, pl.DataFrame]]:
    """One series per ward (name, code and generation in its key), pooled as "wards"."""
    wards = loading.child_wards(scope)
    per_area = loading.counts_by_area(wards, scope, months[0], months[-1])
    return [(f"{w.name} ({w.code}, {w.generation})", "wards", per_area[w.pk]) for w in wards]


def _category_series(scope: Scope, months: list[date]) -> list[tuple[str, str, pl.DataFrame]]:
    """One series per category seen in the area, pooled by theme for the seasonal factor."""
    counts = loading.monthly_counts(scope, months[0], months[-1])
    labels = loading.category_labels()
    out = []
    for cat in sorted(set(counts["category_id"].to_list()), key=lambda c: labels[c].order):
        same = pl.col("category_id").is_null() if cat is None else pl.col("category_id") == cat
        out.append((labels[cat].name, labels[cat].theme_name, counts.filter(same)))
    return out


# ----------------------------------------------------------------------------------------
# Ward profile


def ward_profile(scope: Scope, period: Period, baseline: Period) -> WardProfile:
    """The ward profile page's figures: the SIA of the ward, its monthly trend, peers,
    repeat locations, a 100 m hotspot map (quartic, 300 m) and emerging issues by category
    in the period's last month with data. A part that cannot be computed says why in
    ``notes`` and is None."""
    ward = scope.the_area
    if ward.level != "ward":
        raise BadQuery(f"{ward.code} is a {ward.level}, not a ward")
    sia = sia_for_area(scope, period, baseline)
    notes = list(sia.notes)

    def attempt(what: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except BadQuery as exc:
            notes.append(f"{what}: {exc}")
            return None

    last = sia.current.months[-1]
    span = (min(baseline[0], period[0]), max(baseline[1], period[1]))
    return WardProfile(
        ward=AreaRef.of(ward),
        parent=AreaRef.of(ward.parent) if ward.parent else None,
        sia=sia,
        trend=_trend(scope, span),
        peers=attempt("Peer comparison", lambda: peer_comparison_for(scope, period)),
        hotspots=attempt(
            "Hotspots",
            lambda: hotspots_for_area(scope, period, cell_size=100, bandwidth=300),
        ),
        emerging=attempt("Emerging issues", lambda: emerging_for_area(scope, last, by="category")),
        notes=tuple(notes),
    )


def _trend(scope: Scope, span: Period) -> tuple[TrendPoint, ...]:
    """Incidents per month and theme; a month without data is marked, never zero."""
    counts = loading.monthly_counts(scope, *span)
    cover, kept = loading.covered(scope, counts, period_months(span), "trend")
    labels = loading.category_labels()
    by_month: dict[date, dict[str, int]] = {m: {} for m in cover.months}
    for _, m, cat, n in kept.iter_rows():
        theme = labels[cat].theme_code
        by_month[m][theme] = by_month[m].get(theme, 0) + int(n)
    return tuple(
        TrendPoint(
            m,
            m in by_month,
            sum(by_month[m].values()) if m in by_month else None,
            by_month.get(m, {}),
        )
        for m in period_months(span)
    )
