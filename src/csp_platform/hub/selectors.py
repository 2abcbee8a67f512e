"""Reads for the hub page and its data endpoints: one scope, one set of filters, all figures.

Every function takes the request's :class:`~csp_platform.incidents.scope.Scope`, resolved
once by the view with the membership's access (:func:`scope_for`). Ward and monthly figures
come from :mod:`csp_platform.analysis.loading` (the monthly table for the newest
generation, points in polygons for an older one), the breakdown by category from
:func:`csp_platform.incidents.selectors.counts`, the function behind ``csp counts``. Tests
hold them to the same numbers as ``csp counts`` and as the raw files.

A month is *covered* when a selected source that records the categories asked for has data
for it. Months not covered are gaps (``None``), never zeros; a selection no loaded source
covers for the period has no figures at all, and says so in words
(:attr:`~csp_platform.incidents.scope.Selection.message`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl
import shapely
from django.db.models import Count, F, Min

from csp_analytics.geo import assign_points
from csp_analytics.rates import rate_per_1000
from csp_platform.analysis import loading
from csp_platform.analysis.periods import Period, add_months, period_months
from csp_platform.areas.models import Area
from csp_platform.areas.selectors import area_geometry
from csp_platform.core import policy
from csp_platform.core.cache import EVERYONE, cached
from csp_platform.core.models import Membership, Partnership
from csp_platform.incidents import scope as scopes
from csp_platform.incidents import selectors as incident_selectors
from csp_platform.incidents.models import Category, Incident, LocationPrecision, Source, Theme
from csp_platform.incidents.scope import Scope, Selection
from csp_platform.incidents.selectors import CountQuery

MEASURES = {"count": "Incidents", "rate": "Incidents per 1,000 residents"}
POINT_LIMIT = 5000


@dataclass(frozen=True)
class Filters:
    """What the user asked for; every page and endpoint of the hub takes the same."""

    period: Period
    area_code: str | None = None
    themes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    measure: str = "count"
    generation: str | None = None

    def params(self) -> dict[str, Any]:
        """The filters as URL parameters (and as recorded with an export)."""
        out: dict[str, Any] = {
            "from": f"{self.period[0]:%Y-%m}",
            "to": f"{self.period[1]:%Y-%m}",
        }
        if self.area_code:
            out["area"] = self.area_code
        for key, values in (
            ("theme", self.themes),
            ("category", self.categories),
            ("source", self.sources),
        ):
            if values:
                out[key] = list(values)
        if self.measure != "count":
            out["measure"] = self.measure
        if self.generation:
            out["generation"] = self.generation
        return out


def scope_for(membership: Membership, filters: Filters) -> Scope:
    """The request's scope, resolved once with the membership's access (an area outside the
    partnership is a 404)."""
    return scopes.scope_resolve(
        scopes.access_for(membership),
        filters.area_code,
        period=filters.period,
        sources=filters.sources,
        categories=filters.categories,
        themes=filters.themes,
        generation=filters.generation,
        levels=scopes.SCOPE_LEVELS,
    )


def coverage(scope: Scope) -> Selection:
    """Which months of the period a source recording the selection has data for."""
    return cached(
        ["coverage", *scope.cache_key()],
        lambda: scopes.selection_coverage(scope),
        audience=scope.access.audience,
    )


# ----------------------------------------------------------------------------------------
# Choices for the filter form


def months_with_data() -> list[date]:
    """Months in which any incident source has data, oldest first."""
    return cached(["months"], scopes.months_with_data, audience=EVERYONE)


def default_period(months: Sequence[date]) -> Period:
    """The twelve months up to the newest month with data."""
    if not months:
        today = date.today().replace(day=1)
        return (add_months(today, -11), today)
    last = months[-1]
    return (max(add_months(last, -11), months[0]), last)


@dataclass(frozen=True)
class Choices:
    districts: list[Area]
    wards: list[Area]
    custom: list[Area]
    themes: list[Theme]
    categories: list[Category]
    sources: list[Source]
    months: list[date]  # every month from the first with data to the last, gaps included
    months_with_data: list[date]
    generations: list[str] = field(default_factory=list)  # ward generations, newest first
    with_data: set[str] = field(default_factory=set)  # category and theme codes with data


def filter_choices(membership: Membership) -> Choices:
    """What the filter form offers the membership (cached until the data change)."""
    access = scopes.access_for(membership)
    partnership = membership.partnership
    return cached(["choices"], lambda: _choices(access, partnership), audience=access.audience)


def _choices(access: scopes.Access, partnership: Partnership) -> Choices:
    found = scopes.months_with_data()
    return Choices(
        districts=scopes.areas_of_level("district", access),
        wards=scopes.areas_of_level("ward", access),
        custom=scopes.areas_of_level("custom", access),
        themes=list(Theme.objects.all()),
        categories=list(Category.objects.select_related("theme").order_by("theme__order", "name")),
        sources=list(incident_selectors.sources_visible_to(partnership).order_by("name")),
        months=period_months((found[0], found[-1])) if found else [],
        months_with_data=found,
        generations=scopes.generations("ward"),
        with_data=scopes.categories_with_data(),
    )


# ----------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True)
class WardFigure:
    code: str
    name: str
    generation: str
    incidents: int | None  # None: no source recording the selection has data
    population: int | None
    rate: float | None
    rank: int | None = None  # None: no data, so no place in the ranking


@dataclass(frozen=True)
class WardTable:
    rows: list[WardFigure]
    generation: str
    measure: str
    notes: list[str] = field(default_factory=list)

    def value(self, row: WardFigure) -> float | None:
        if row.incidents is None:
            return None
        return row.rate if self.measure == "rate" else float(row.incidents)


def _area_counts(areas: Sequence[Area], scope: Scope, cover: Selection) -> dict[int, pl.DataFrame]:
    """Each area's counts per (source, month, category) over the covered months."""
    if not cover.any or not areas:
        return {a.pk: pl.DataFrame(schema=loading.COUNT_SCHEMA) for a in areas}
    first, last = cover.covered[0], cover.covered[-1]
    found = loading.counts_by_area(areas, scope.with_sources(cover.sources), first, last)
    keep = list(cover.covered)
    return {pk: frame.filter(pl.col("month").is_in(keep)) for pk, frame in found.items()}


def ward_figures(scope: Scope, measure: str = "count") -> WardTable:
    """Incidents (and rate per 1,000 residents) for each ward of the scope, ranked; no
    figures at all (None, never zero) when no source covers the selection."""
    cover = coverage(scope)
    wards = scope.wards
    per_ward = _area_counts(wards, scope, cover)
    incidents = np.array(
        [float(per_ward[w.pk]["n"].sum()) if cover.any else np.nan for w in wards], dtype=float
    )
    population = np.array(
        [np.nan if w.population is None else w.population for w in wards], dtype=float
    )
    rates = rate_per_1000(incidents, population).per_1000 if wards else np.array([])
    rows = [
        WardFigure(
            w.code,
            w.name,
            w.generation,
            None if np.isnan(n) else int(n),
            w.population,
            None if np.isnan(r) else round(float(r), 2),
        )
        for w, n, r in zip(wards, incidents, rates)
    ]
    notes = [n for n in (cover.message, scope.ward_note) if n]
    table = WardTable([], scope.generation or "none", measure, notes)

    def busiest_first(r: WardFigure) -> tuple[float, str]:
        value = table.value(r)
        return (-(value if value is not None else -1), r.name)

    ordered = sorted(rows, key=busiest_first)
    ranked = [
        WardFigure(**{**vars(r), "rank": i if r.incidents is not None else None})
        for i, r in enumerate(ordered, start=1)
    ]
    return WardTable(ranked, table.generation, table.measure, table.notes)


@dataclass(frozen=True)
class TrendPoint:
    month: date
    incidents: int | None  # None: no selected source recording the selection has data

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


def trend(scope: Scope) -> list[TrendPoint]:
    """Incidents per month over the period; months without data are gaps."""
    cover = coverage(scope)
    per_area = _area_counts(scope.totals_from, scope, cover)
    counts: dict[date, int] = {}
    for frame in per_area.values():
        for month, n in frame.group_by("month").agg(pl.col("n").sum()).iter_rows():
            counts[month] = counts.get(month, 0) + int(n)
    covered = set(cover.covered)
    return [TrendPoint(m, counts.get(m, 0) if m in covered else None) for m in cover.months]


@dataclass(frozen=True)
class BreakdownRow:
    theme: str
    theme_name: str
    category: str
    category_name: str
    incidents: int | None
    aggregate_count: float | None


def _sum(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def breakdown(scope: Scope) -> tuple[list[BreakdownRow], list[str]]:
    """Counts by theme and category for the scope (partners' aggregate returns apart)."""
    period = scope.period_or_fail
    query = CountQuery(by=("theme", "category"), month_from=period[0], month_to=period[1])
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    notes: list[str] = []
    for area in scope.totals_from:
        table = incident_selectors.counts(
            dataclasses.replace(scope, area=area, linked=scopes.is_linked(area)), query
        )
        notes += [n for n in table.notes if n not in notes]
        for row in table.rows:
            key = (row["theme"], row["category"])
            if key not in merged:
                merged[key] = dict(row)
                continue
            for col in ("incidents", "aggregate_count"):
                merged[key][col] = _sum(merged[key][col], row[col])
    rows = [
        BreakdownRow(
            r["theme"],
            r["theme_name"],
            r["category"],
            r["category_name"],
            r["incidents"],
            r["aggregate_count"],
        )
        for r in merged.values()
    ]
    order = {t.code: t.order for t in Theme.objects.all()}
    rows.sort(key=lambda r: (order.get(r.theme, 99), r.theme_name, -(r.incidents or 0)))
    message = coverage(scope).message
    return rows, [message, *notes] if message else notes


def total(rows: Iterable[TrendPoint]) -> int | None:
    """Incidents over the months with data; None when no month has any."""
    values = [p.incidents for p in rows if p.incidents is not None]
    return sum(values) if values else None


# ----------------------------------------------------------------------------------------
# Points at published locations


@dataclass(frozen=True)
class PublishedPoint:
    lon: float
    lat: float
    location: str
    incidents: int


@dataclass(frozen=True)
class PointSet:
    points: list[PublishedPoint]
    truncated: bool
    not_shown: int  # incidents in scope with no published location (exact, rounded or none)


def _incident_rows(scope: Scope) -> tuple[Any, Area | None]:
    """The scope's incident rows, and the polygon they must still be inside (an area
    incidents are not linked to: a custom area or an older ward generation; its bounding
    box is applied here)."""
    first, last = scope.period_or_fail
    qs = Incident.objects.filter(month__gte=first, month__lte=last, source_id__in=scope.source_ids)
    if scope.category_ids is not None:
        qs = qs.filter(category_id__in=scope.category_ids)
    area = scope.area
    if area is None:
        return qs.filter(district__in=[d.pk for d in scope.districts]), None
    if scope.linked and area.level in ("district", "ward"):
        return qs.filter(**{area.level: area.pk}), None
    box = qs.filter(
        place__lon__gte=area.min_lon,
        place__lon__lte=area.max_lon,
        place__lat__gte=area.min_lat,
        place__lat__lte=area.max_lat,
    )
    return box, area


def points_for(
    membership: Membership, scope: Scope, *, action: str = "view", limit: int = POINT_LIMIT
) -> PointSet:
    """The point layer (``view``) or its export (``export``) for a member, if the policy's
    ``incident_points`` resource allows the member's role (403 otherwise). The scope is
    the member's own (resolved from their membership)."""
    policy.membership_require(membership, "incident_points", action)
    return points(scope, limit=limit)


def points(scope: Scope, *, limit: int = POINT_LIMIT) -> PointSet:
    """Incidents grouped by published (police.uk snap) point, busiest first.

    Only ``snap`` locations are published; exact and rounded partner locations are never
    shown as points, and are counted in ``not_shown`` with the rows that have no location.
    A police.uk map point always carries the same location text, so the group is the point.
    Points of an area incidents are not linked to are those inside its polygon.
    """
    cover = coverage(scope)
    if not cover.any:
        return PointSet([], False, 0)
    qs, polygon = _incident_rows(scope)
    groups = list(
        qs.filter(place__location_precision=LocationPrecision.SNAP_POINT)
        .values(lon=F("place__lon"), lat=F("place__lat"))
        .annotate(n=Count("id"), location=Min("place__location_text"))
        .order_by("-n", "lon", "lat")
    )
    if polygon is not None and groups:
        inside = assign_points(
            np.array([g["lon"] for g in groups], dtype=float),
            np.array([g["lat"] for g in groups], dtype=float),
            [area_geometry(polygon)],
        )
        groups = [g for g, i in zip(groups, inside) if i == 0]
    published = sum(g["n"] for g in groups)
    per_area = _area_counts(scope.totals_from, scope, cover)
    total = sum(int(f["n"].sum()) for f in per_area.values())
    found = [
        PublishedPoint(round(g["lon"], 6), round(g["lat"], 6), g["location"], g["n"])
        for g in groups[:limit]
    ]
    return PointSet(found, len(groups) > limit, total - published)


# ----------------------------------------------------------------------------------------
# Geometry for the map


@lru_cache(maxsize=4096)
def _geometry(area_id: int, stamp: str) -> dict[str, Any]:
    wkb = Area.objects.filter(pk=area_id).values_list("geometry_wkb", flat=True).get()
    geom = shapely.set_precision(shapely.from_wkb(bytes(wkb)), 1e-6)
    result: dict[str, Any] = json.loads(shapely.to_geojson(geom))
    return result


def area_geometry_json(area: Area) -> dict[str, Any]:
    """GeoJSON geometry (WGS84, 6 decimal places), cached until the area is re-imported."""
    return _geometry(area.pk, area.imported_at.isoformat())


def bounds(areas: Sequence[Area]) -> list[list[float]] | None:
    if not areas:
        return None
    return [
        [min(a.min_lat for a in areas), min(a.min_lon for a in areas)],
        [max(a.max_lat for a in areas), max(a.max_lon for a in areas)],
    ]
