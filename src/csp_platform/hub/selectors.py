"""Reads for the hub page and its data endpoints: one scope, one set of filters, all figures.

Ward and monthly figures for wards, districts and the whole partnership are one grouped
query each on the monthly table (:class:`~csp_platform.incidents.models.AreaMonthCount`,
incident rows of one month), so the data endpoints stay fast at millions of incidents. The
breakdown by category, and every figure for a custom area (which the monthly table does not
hold), come from :func:`csp_platform.incidents.selectors.counts`, the function behind
``csp counts``. Tests hold the two paths to the same numbers as ``csp counts``. Points are
read from incident rows, at their published (police.uk snap) locations only.

A month is *covered* when at least one selected source has any data for it. Months not
covered are gaps (``None``), never zeros.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from django.db.models import Count, F, Min, Sum

from csp_analytics.rates import rate_per_1000
from csp_platform.analysis.periods import Period, add_months, period_months
from csp_platform.areas.models import Area
from csp_platform.areas.selectors import area_geometry
from csp_platform.core import selectors as core_selectors
from csp_platform.core.models import Membership, Partnership
from csp_platform.hub.cache import cached
from csp_platform.incidents import selectors as incident_selectors
from csp_platform.incidents.models import (
    AreaMonthCount,
    Category,
    Incident,
    LocationPrecision,
    Source,
    Theme,
)
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

    def query(self, by: tuple[str, ...], area_code: str | None) -> CountQuery:
        return CountQuery(
            by=by,
            area=area_code,
            month_from=self.period[0],
            month_to=self.period[1],
            sources=self.sources,
            categories=self.categories,
            themes=self.themes,
        )

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
        return out


@dataclass(frozen=True)
class Scope:
    """Where the figures are for: the whole partnership, a district, a ward or a custom area.

    ``totals_from`` are the areas whose counts add up to the scope (the partnership's
    districts, or the one area); ``wards`` are the wards the map and the ranking show.
    """

    partnership: Partnership
    area: Area | None
    totals_from: tuple[Area, ...]
    wards: tuple[Area, ...]
    ward_districts: tuple[Area, ...]
    note: str = ""

    @property
    def label(self) -> str:
        if self.area is None:
            return self.partnership.name
        return f"{self.area.name} ({self.area.get_level_display().lower()})"

    @property
    def generation(self) -> str:
        """The ward boundary generation every ward figure here is for."""
        gens = sorted({w.generation for w in self.wards})
        return ", ".join(gens) if gens else "none"


def scope_for(membership: Membership, area_code: str | None) -> Scope:
    """The scope of a request; an area outside the partnership is a 404."""
    partnership = membership.partnership
    districts = tuple(core_selectors.partnership_districts(partnership))
    if not area_code:
        wards = tuple(core_selectors.partnership_areas(partnership, "ward"))
        return Scope(partnership, None, districts, wards, districts)
    area = core_selectors.area_get_for(membership, area_code)
    if area.level == "district":
        wards = tuple(core_selectors.partnership_areas(partnership, "ward").filter(parent=area))
        return Scope(partnership, area, (area,), wards, (area,))
    parent = tuple(d for d in districts if d.pk == area.parent_id)
    if area.level == "ward":
        return Scope(partnership, area, (area,), (area,), parent)
    inside = area_geometry(area)
    wards = tuple(
        w
        for w in core_selectors.partnership_areas(partnership, "ward")
        if shapely.intersects(inside, area_geometry(w))
    )
    note = "Ward figures are for whole wards overlapping the area, not clipped to it."
    return Scope(partnership, area, (area,), wards, parent, note)


# ----------------------------------------------------------------------------------------
# Choices for the filter form


def months_with_data(sources: Sequence[str] = ()) -> list[date]:
    """Months in which any (selected) incident source has data, oldest first."""

    def load() -> list[date]:
        qs = AreaMonthCount.objects.filter(
            area__isnull=True, period_months=1, kind=AreaMonthCount.Kind.INCIDENT
        )
        if sources:
            qs = qs.filter(source__code__in=sources)
        return sorted(set(qs.values_list("month", flat=True).distinct()))

    return cached(["months", sorted(sources)], load)


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


def filter_choices(partnership: Partnership) -> Choices:
    """What the filter form offers (cached until the data change)."""
    return cached(["choices", partnership.pk], lambda: _choices(partnership))


def _choices(partnership: Partnership) -> Choices:
    found = months_with_data()
    return Choices(
        districts=core_selectors.partnership_districts(partnership),
        wards=list(core_selectors.partnership_areas(partnership, "ward")),
        custom=list(core_selectors.partnership_areas(partnership, "custom")),
        themes=list(Theme.objects.all()),
        categories=list(Category.objects.select_related("theme").order_by("theme__order", "name")),
        sources=list(incident_selectors.sources_visible_to(partnership).order_by("name")),
        months=period_months((found[0], found[-1])) if found else [],
        months_with_data=found,
    )


# ----------------------------------------------------------------------------------------
# Figures


def _sum(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _merged(
    filters: Filters, by: tuple[str, ...], codes: Iterable[str]
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], list[str]]:
    """``counts()`` for each area code, summed row by row on the ``by`` fields."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    notes: list[str] = []
    for code in codes:
        table = incident_selectors.counts(filters.query(by, code))
        notes += [n for n in table.notes if n not in notes]
        for row in table.rows:
            key = tuple(row[f] for f in by)
            if key not in merged:
                merged[key] = dict(row)
                continue
            for col in ("incidents", "aggregate_count"):
                merged[key][col] = _sum(merged[key][col], row[col])
    return merged, notes


@dataclass(frozen=True)
class WardFigure:
    code: str
    name: str
    generation: str
    incidents: int
    population: int | None
    rate: float | None
    rank: int = 0


@dataclass(frozen=True)
class WardTable:
    rows: list[WardFigure]
    generation: str
    measure: str
    notes: list[str] = field(default_factory=list)

    def value(self, row: WardFigure) -> float | None:
        return row.rate if self.measure == "rate" else float(row.incidents)


@dataclass(frozen=True)
class Codes:
    """Filter codes to ids, so monthly-table queries need no joins."""

    category: dict[str, int]
    theme: dict[str, set[int]]
    source: dict[str, int]


def codes() -> Codes:
    def load() -> Codes:
        themes: dict[str, set[int]] = {}
        for cat_id, theme in Category.objects.values_list("id", "theme__code"):
            themes.setdefault(theme, set()).add(cat_id)
        return Codes(
            dict(Category.objects.values_list("code", "id")),
            themes,
            dict(Source.objects.values_list("code", "id")),
        )

    return cached(["codes"], load)


def _monthly_incidents(filters: Filters, area_ids: Sequence[int], key: str) -> dict[Any, int]:
    """Incidents from the monthly table, summed by ``key`` (``area_id`` or ``month``).

    The same rows ``csp counts`` reads for a linked area: incident counts of one month,
    inside the period, with the category, theme and source filters (all must hold).
    """
    qs = AreaMonthCount.objects.filter(
        kind=AreaMonthCount.Kind.INCIDENT,
        period_months=1,
        area_id__in=list(area_ids),
        month__gte=filters.period[0],
        month__lte=filters.period[1],
    )
    ids = codes()
    if filters.categories:
        qs = qs.filter(category_id__in=[ids.category[c] for c in filters.categories])
    if filters.themes:
        qs = qs.filter(
            category_id__in=set().union(*(ids.theme.get(t, set()) for t in filters.themes))
        )
    if filters.sources:
        qs = qs.filter(source_id__in=[ids.source[c] for c in filters.sources])
    rows = qs.values_list(key).annotate(total=Sum("n")).order_by()
    return {k: int(total) for k, total in rows}


def _linked(scope: Scope) -> bool:
    """Can the monthly table answer for this scope (no custom area)?"""
    return scope.area is None or scope.area.level in ("district", "ward")


def ward_figures(scope: Scope, filters: Filters) -> WardTable:
    """Incidents (and rate per 1,000 residents) for each ward of the scope, ranked."""
    notes: list[str] = []
    by_id = _monthly_incidents(filters, [w.pk for w in scope.wards], "area_id")
    wards = list(scope.wards)
    incidents = np.array([by_id.get(w.pk, 0) for w in wards], dtype=float)
    population = np.array(
        [np.nan if w.population is None else w.population for w in wards], dtype=float
    )
    rates = rate_per_1000(incidents, population).per_1000 if wards else np.array([])
    rows = [
        WardFigure(
            w.code,
            w.name,
            w.generation,
            int(n),
            w.population,
            None if np.isnan(r) else round(float(r), 2),
        )
        for w, n, r in zip(wards, incidents, rates)
    ]
    table = WardTable(
        [], scope.generation, filters.measure, notes + [scope.note] * bool(scope.note)
    )

    def busiest_first(r: WardFigure) -> tuple[float, str]:
        value = table.value(r)
        return (-(value if value is not None else -1), r.name)

    ordered = sorted(rows, key=busiest_first)
    ranked = [WardFigure(**{**vars(r), "rank": i}) for i, r in enumerate(ordered, start=1)]
    return WardTable(ranked, table.generation, table.measure, table.notes)


@dataclass(frozen=True)
class TrendPoint:
    month: date
    incidents: int | None  # None: no selected source has data for the month

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


def trend(scope: Scope, filters: Filters) -> list[TrendPoint]:
    """Incidents per month over the period; months without data are gaps."""
    if _linked(scope):
        by_month = _monthly_incidents(filters, [a.pk for a in scope.totals_from], "month")
        counts = {f"{m:%Y-%m}": n for m, n in by_month.items()}
    else:
        merged, _ = _merged(filters, ("month",), [a.code for a in scope.totals_from])
        counts = {key[0]: row["incidents"] or 0 for key, row in merged.items()}
    covered = set(months_with_data(filters.sources))
    return [
        TrendPoint(m, counts.get(f"{m:%Y-%m}", 0) if m in covered else None)
        for m in period_months(filters.period)
    ]


@dataclass(frozen=True)
class BreakdownRow:
    theme: str
    theme_name: str
    category: str
    category_name: str
    incidents: int | None
    aggregate_count: float | None


def breakdown(scope: Scope, filters: Filters) -> tuple[list[BreakdownRow], list[str]]:
    """Counts by theme and category for the scope (partners' aggregate returns apart)."""
    merged, notes = _merged(filters, ("theme", "category"), [a.code for a in scope.totals_from])
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
    return rows, notes


def total(rows: Iterable[TrendPoint]) -> int:
    return sum(p.incidents or 0 for p in rows)


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


def _incident_rows(scope: Scope, filters: Filters) -> Any:
    qs = Incident.objects.filter(month__gte=filters.period[0], month__lte=filters.period[1])
    area = scope.area
    if area is None:
        qs = qs.filter(district__in=[d.pk for d in scope.totals_from])
    elif area.level in ("district", "ward"):
        qs = qs.filter(**{area.level: area.pk})
    else:
        qs = qs.filter(ward__in=[w.pk for w in scope.wards])
    if filters.sources:
        qs = qs.filter(source__code__in=filters.sources)
    if filters.categories:
        qs = qs.filter(category__code__in=filters.categories)
    if filters.themes:
        qs = qs.filter(category__theme__code__in=filters.themes)
    return qs


def points(scope: Scope, filters: Filters, *, limit: int = POINT_LIMIT) -> PointSet:
    """Incidents grouped by published (police.uk snap) point, busiest first.

    Only ``snap`` locations are published; exact and rounded partner locations are never
    shown as points, and are counted in ``not_shown`` with the rows that have no location.
    A police.uk map point always carries the same location text, so the group is the point.
    For a custom area the points are those of the overlapping wards.
    """
    qs = _incident_rows(scope, filters)
    groups = list(
        qs.filter(place__location_precision=LocationPrecision.SNAP_POINT)
        .values(lon=F("place__lon"), lat=F("place__lat"))
        .annotate(n=Count("id"), location=Min("place__location_text"))
        .order_by("-n", "lon", "lat")
    )
    published = sum(g["n"] for g in groups)
    if _linked(scope):
        total = sum(
            _monthly_incidents(filters, [a.pk for a in scope.totals_from], "month").values()
        )
    else:
        total = qs.count()
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
