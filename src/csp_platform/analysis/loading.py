"""From the incident store to arrays: what the analysis selectors count and map.

Every function takes a :class:`~csp_platform.incidents.scope.Scope`, resolved once at the
edge; which areas, which generation and which months have data is decided there
(:mod:`csp_platform.incidents.scope`), never here. Three ways to the same numbers (tests
hold them to it):

* wards and districts of the newest generation: monthly counts from
  :class:`~csp_platform.incidents.models.AreaMonthCount` (kept by the import), rows through
  the incidents' ``ward``/``district`` links and their ``(ward, month)``/``(district, month)``
  indexes;
* LSOAs of the newest generation: the incidents' ``lsoa`` link (the monthly table does not
  keep LSOAs, docs/data-model.md);
* any other area (a custom area, an MSOA, an older ward generation): the places in its
  bounding box, kept when the point lies in its polygon
  (:func:`csp_analytics.geo.assign_points`), counted per place by the database. Rows
  without coordinates cannot be placed in such an area.

**Months with data** are decided in :mod:`csp_platform.incidents.scope` (``covered``,
``covering_sources``, re-exported here): a month counts only when every source that
contributes to the area has data for it (any row at all, anywhere). A month a source has not
published is a gap, and is left out of the period, never counted as zero; the selectors
report it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely
from django.db.models import Count, Q, Sum

from csp_analytics.geo import assign_points, to_bng
from csp_platform.analysis.periods import month_number
from csp_platform.areas.models import Area
from csp_platform.areas.selectors import area_geometry
from csp_platform.core.errors import BadQuery
from csp_platform.incidents.models import (
    AreaMonthCount,
    AreaSubcategoryCount,
    Category,
    Incident,
    Place,
    PlaceMonthCount,
    incident_lookup,
)
from csp_platform.incidents.scope import (
    MONTHLY_LEVELS,
    Coverage,
    Scope,
    SourceCalendar,
    areas_of_level,
    covered,
    covering_sources,
    is_linked,
    newest_generations,
)

__all__ = ["covered", "covering_sources"]  # which months have data: incidents/scope.py

UNKNOWN = ("unknown", "Unknown category", "unknown", "Not yet categorised")


@dataclass(frozen=True)
class AreaRef:
    """An area as results name it: code, name, level, boundary generation, residents."""

    code: str
    name: str
    level: str
    generation: str
    population: int | None

    @classmethod
    def of(cls, area: Area) -> AreaRef:
        return cls(area.code, area.name, area.level, area.generation, area.population)

    @property
    def label(self) -> str:
        """ "Coatham (ward, 2013)": every ward figure names its boundary generation."""
        return f"{self.name} ({self.level}, {self.generation})"

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _filters(scope: Scope, first: date | None, last: date) -> Q:
    """Sources, categories and months ``first..last`` (``first`` None: from the start)."""
    cond = Q(source_id__in=scope.source_ids, month__lte=last)
    if first is not None:
        cond &= Q(month__gte=first)
    if scope.category_ids is not None:
        cond &= Q(category_id__in=scope.category_ids)
    return cond


# ----------------------------------------------------------------------------------------
# Monthly counts


COUNT_SCHEMA = {"source_id": pl.Int64, "month": pl.Date, "category_id": pl.Int64, "n": pl.Int64}


def monthly_counts(scope: Scope, first: date | None, last: date) -> pl.DataFrame:
    """Incidents in the area per (source_id, month, category_id), months first..last."""
    if scope.monthly:
        rows = (
            AreaMonthCount.objects.filter(_filters(scope, first, last))
            .filter(area=scope.the_area, kind=AreaMonthCount.Kind.INCIDENT, period_months=1)
            .values_list("source_id", "month", "category_id")
            .annotate(total=Sum("n"))
            .order_by()
        )
        data = [(s, m, c, round(n)) for s, m, c, n in rows]
        return pl.DataFrame(data, schema=COUNT_SCHEMA, orient="row")
    frame = area_rows(scope, first, last, ("source_id", "month", "category_id"))
    return frame.group_by("source_id", "month", "category_id").agg(
        pl.len().cast(pl.Int64).alias("n")
    )


def counts_by_area(
    areas: Sequence[Area], scope: Scope, first: date, last: date
) -> dict[int, pl.DataFrame]:
    """Monthly counts (as :func:`monthly_counts`) for each of several areas, keyed by id.

    One query for the areas in the monthly table, one for linked LSOAs, one per boundary
    generation of the other areas of a level (their places in polygons), and the rows of
    each custom area.
    """
    newest = newest_generations()
    linked = [a for a in areas if is_linked(a, newest)]
    table = [a for a in linked if a.level in MONTHLY_LEVELS]
    found: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    if table:
        rows = (
            AreaMonthCount.objects.filter(_filters(scope, first, last))
            .filter(area__in=table, kind=AreaMonthCount.Kind.INCIDENT, period_months=1)
            .values_list("area_id", "source_id", "month", "category_id")
            .annotate(total=Sum("n"))
            .order_by()
        )
        for area_id, s, m, c, n in rows:
            found[area_id].append((s, m, c, round(n)))
    lsoas = [a for a in linked if a.level == "lsoa"]
    if lsoas:
        by_lsoa = (
            Incident.objects.filter(_filters(scope, first, last))
            .filter(place__lsoa_id__in=[a.pk for a in lsoas])
            .values_list("place__lsoa_id", "source_id", "month", "category_id")
            .annotate(total=Count("id"))
            .order_by()
        )
        for area_id, s, m, c, n in by_lsoa:
            found[area_id].append((s, m, c, n))
    out = {
        a.pk: pl.DataFrame(found.get(a.pk, []), schema=COUNT_SCHEMA, orient="row") for a in linked
    }
    others = [a for a in areas if a.pk not in out]
    by_generation: dict[tuple[str, str], list[Area]] = defaultdict(list)
    for a in others:
        if a.level == "custom":
            out[a.pk] = monthly_counts(
                dataclasses.replace(scope, area=a, linked=False), first, last
            )
        else:
            by_generation[(a.level, a.generation)].append(a)
    for group in by_generation.values():
        out.update(_counts_in_polygons(group, scope, first, last))
    return out


def _counts_in_polygons(
    areas: Sequence[Area], scope: Scope, first: date | None, last: date
) -> dict[int, pl.DataFrame]:
    """Counts for areas of one level and generation (they do not overlap): the incidents
    per place, month, source and category in their joint bounding box, each place given to
    the polygon it lies in."""
    qs = Incident.objects.filter(_filters(scope, first, last)).filter(
        place__lon__gte=min(a.min_lon for a in areas),
        place__lon__lte=max(a.max_lon for a in areas),
        place__lat__gte=min(a.min_lat for a in areas),
        place__lat__lte=max(a.max_lat for a in areas),
    )
    rows = list(
        qs.values_list("place__lon", "place__lat", "source_id", "month", "category_id")
        .annotate(total=Count("id"))
        .order_by()
    )
    found: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    if rows:
        lon = np.array([r[0] for r in rows], dtype=np.float64)
        lat = np.array([r[1] for r in rows], dtype=np.float64)
        polygons = list(Area.objects.filter(pk__in=[a.pk for a in areas]))
        ids = [a.pk for a in polygons]
        where = assign_points(lon, lat, [area_geometry(a) for a in polygons])
        for (_, _, s, m, c, n), i in zip(rows, where):
            if i >= 0:
                found[ids[i]].append((s, m, c, n))
    return {
        a.pk: _summed(pl.DataFrame(found.get(a.pk, []), schema=COUNT_SCHEMA, orient="row"))
        for a in areas
    }


def _summed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by("source_id", "month", "category_id").agg(pl.col("n").sum().cast(pl.Int64))


# ----------------------------------------------------------------------------------------
# Rows and points


def area_rows(scope: Scope, first: date | None, last: date, columns: Sequence[str]) -> pl.DataFrame:
    """The area's incident rows (the ``columns`` asked for), months first..last."""
    qs = Incident.objects.filter(_filters(scope, first, last))
    if scope.linked:
        qs = qs.filter(**{incident_lookup(f"{scope.the_area.level}_id"): scope.the_area.pk})
        return _frame(qs, list(columns))
    a = scope.the_area
    qs = qs.filter(
        place__lon__gte=a.min_lon,
        place__lon__lte=a.max_lon,
        place__lat__gte=a.min_lat,
        place__lat__lte=a.max_lat,
    )
    extra = [c for c in ("lon", "lat") if c not in columns]
    frame = _frame(qs, [*columns, *extra])
    if frame.height:
        lon = frame["lon"].cast(pl.Float64).to_numpy()
        lat = frame["lat"].cast(pl.Float64).to_numpy()
        inside = assign_points(lon, lat, [area_geometry(a)]) == 0
        frame = frame.filter(pl.Series(inside))
    return frame.select(list(columns))


_TYPES = {
    "month": pl.Date,
    "lon": pl.Float64,
    "lat": pl.Float64,
    "easting": pl.Float64,
    "northing": pl.Float64,
    "location_text": pl.String,
    "source_category": pl.String,
}


def _frame(qs: Any, columns: list[str]) -> pl.DataFrame:
    schema = {c: _TYPES.get(c, pl.Int64) for c in columns}
    lookups = [incident_lookup(c) for c in columns]
    return pl.DataFrame(list(qs.values_list(*lookups).order_by()), schema=schema, orient="row")


def grouped(
    scope: Scope, months: Sequence[date], keys: Sequence[str], *, located: bool = False
) -> pl.DataFrame:
    """Incidents in the area in ``months`` counted per combination of ``keys`` (column ``n``).

    Linked areas (the keys being place fields, categories, sources or months) are summed by
    the database from :class:`~csp_platform.incidents.models.PlaceMonthCount`, the counts
    per place and month the import keeps, through the places' area links; other areas read
    their rows and group them. ``located`` keeps only incidents with coordinates.
    """
    first, last = min(months), max(months)
    if scope.linked:
        # The area's places first, then their counts through the (place, month) index.
        places = Place.objects.filter(**{f"{scope.the_area.level}_id": scope.the_area.pk})
        qs = PlaceMonthCount.objects.filter(_filters(scope, first, last)).filter(
            place_id__in=places.values("id")
        )
        if len(months) < month_number(last) - month_number(first) + 1:
            qs = qs.filter(month__in=list(months))
        if located:
            qs = qs.filter(place__lon__isnull=False, place__lat__isnull=False)
        rows = qs.values_list(*map(incident_lookup, keys)).annotate(total=Sum("n")).order_by()
        schema = {**{c: _TYPES.get(c, pl.Int64) for c in keys}, "n": pl.Int64}
        return pl.DataFrame(list(rows), schema=schema, orient="row")
    frame = area_rows(scope, first, last, list(dict.fromkeys([*keys, "lon", "month"])))
    frame = frame.filter(pl.col("month").is_in(list(months)))
    if located:
        frame = frame.filter(pl.col("lon").is_not_null())
    return frame.group_by(list(keys)).agg(pl.len().cast(pl.Int64).alias("n"))


def subcategory_counts(scope: Scope, months: Sequence[date]) -> pl.DataFrame:
    """Incidents in the area in ``months`` per category and the source's own category
    (columns category_id, source_category, n): from
    :class:`~csp_platform.incidents.models.AreaSubcategoryCount` for wards and districts of
    the newest generation, else as :func:`grouped`."""
    if not scope.monthly:
        return grouped(scope, months, ("category_id", "source_category"))
    first, last = min(months), max(months)
    qs = AreaSubcategoryCount.objects.filter(_filters(scope, first, last)).filter(
        area=scope.the_area
    )
    if len(months) < month_number(last) - month_number(first) + 1:
        qs = qs.filter(month__in=list(months))
    rows = qs.values_list("category_id", "source_category").annotate(total=Sum("n")).order_by()
    schema = {"category_id": pl.Int64, "source_category": pl.String, "n": pl.Int64}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


@dataclass(frozen=True)
class Points:
    """Located incidents as arrays: BNG metres and month numbers (``year * 12 + month - 1``)."""

    e: npt.NDArray[np.float64]
    n: npt.NDArray[np.float64]
    month: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        return int(self.e.size)


def points(scope: Scope, first: date | None, last: date, *, counted: bool = False) -> Points:
    """Incidents with a location in the area, months first..last, as numpy arrays.

    ``counted`` (for a linked area, a caller to whom the order of the incidents does not
    matter: a density or a grid count) reads the counts per place and month the import keeps
    and repeats each point its number of times: the same incidents, a tenth of the rows."""
    if counted and scope.linked:
        return _points_counted(scope, first, last)
    frame = area_rows(scope, first, last, ("easting", "northing", "month", "category_id"))
    frame = frame.filter(pl.col("easting").is_not_null() & pl.col("northing").is_not_null())
    month = (pl.col("month").dt.year().cast(pl.Int64) * 12) + pl.col("month").dt.month() - 1
    frame = frame.with_columns(month.alias("month_number"))
    return Points(
        e=frame["easting"].to_numpy().astype(np.float64),
        n=frame["northing"].to_numpy().astype(np.float64),
        month=frame["month_number"].to_numpy().astype(np.int64),
        category_id=frame["category_id"].fill_null(-1).to_numpy().astype(np.int64),
    )


def _points_counted(scope: Scope, first: date | None, last: date) -> Points:
    places = Place.objects.filter(**{f"{scope.the_area.level}_id": scope.the_area.pk})
    rows = list(
        PlaceMonthCount.objects.filter(_filters(scope, first, last))
        .filter(place_id__in=places.values("id"))
        .filter(place__easting__isnull=False, place__northing__isnull=False)
        .values_list("place__easting", "place__northing", "month", "category_id")
        .annotate(total=Sum("n"))
        .order_by()
    )
    times = np.array([r[4] for r in rows], dtype=np.int64)
    month = np.array([r[2].year * 12 + r[2].month - 1 for r in rows], dtype=np.int64)
    category = np.array([-1 if r[3] is None else r[3] for r in rows], dtype=np.int64)
    return Points(
        e=np.repeat(np.array([r[0] for r in rows], dtype=np.float64), times),
        n=np.repeat(np.array([r[1] for r in rows], dtype=np.float64), times),
        month=np.repeat(month, times),
        category_id=np.repeat(category, times),
    )


def area_bng(area: Area) -> shapely.Geometry:
    """The area's outline in British National Grid metres (EPSG:27700)."""

    def project(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        e, n = to_bng(xy[:, 0], xy[:, 1])
        return np.column_stack([e, n])

    return shapely.transform(area_geometry(area), project)


# ----------------------------------------------------------------------------------------
# Labels


@dataclass(frozen=True)
class CategoryLabel:
    code: str
    name: str
    theme_code: str
    theme_name: str
    order: tuple[int, str]


def category_labels() -> dict[int | None, CategoryLabel]:
    """Category id -> codes and names (with its theme); ``None`` is the unknown category."""
    out: dict[int | None, CategoryLabel] = {
        c.pk: CategoryLabel(c.code, c.name, c.theme.code, c.theme.name, (c.theme.order, c.name))
        for c in Category.objects.select_related("theme")
    }
    code, name, theme_code, theme_name = UNKNOWN
    out[None] = CategoryLabel(code, name, theme_code, theme_name, (10_000, name))
    return out


# ----------------------------------------------------------------------------------------
# Groups of areas


def level_areas(level: str, scope: Scope, parent: Area | None = None) -> list[Area]:
    """The areas of a level (newest generation; wards of the scope's generation) the
    scope's reader may see, optionally those of one parent district; BadQuery if none."""
    generation = scope.generation if level == "ward" else None
    areas = areas_of_level(level, scope.access, parent=parent, generation=generation)
    if not areas:
        where = f" in {parent.name}" if parent else ""
        raise BadQuery(f"no {level} areas are imported{where} (see `csp import-areas`)")
    return sorted(areas, key=lambda a: a.code)


def child_wards(scope: Scope) -> list[Area]:
    """A district's wards (of the scope's generation); a ward on its own."""
    area = scope.the_area
    if area.level == "ward":
        return [area]
    if area.level != "district":
        raise BadQuery(f"{area.code} is a {area.level}: this needs a district or a ward")
    return level_areas("ward", scope, area)


@dataclass(frozen=True)
class AreaTotal:
    """Incidents in one area over its months with data (None when it has none)."""

    count: int | None
    cover: Coverage

    def over(self, months: Sequence[date], counts: pl.DataFrame) -> int | None:
        """The count over exactly ``months``, or None if the area lacks data in one of them."""
        if not set(months) <= set(self.cover.months):
            return None
        return int(counts.filter(pl.col("month").is_in(list(months)))["n"].sum())


def area_totals(
    areas: Sequence[Area], scope: Scope, months: Sequence[date]
) -> tuple[dict[int, AreaTotal], dict[int, pl.DataFrame]]:
    """Incidents per area (by id) over each area's own months with data, and the monthly
    counts behind them (for recounting over another set of months)."""
    per_area = counts_by_area(areas, scope, min(months), max(months))
    calendar = SourceCalendar.load(scope.source_ids, min(months), max(months))
    sources = covering_sources(areas, scope, per_area, calendar)
    out = {}
    for a in areas:
        cover = calendar.coverage(sources[a.pk], months)
        counts = per_area[a.pk].filter(pl.col("month").is_in(list(cover.months)))
        out[a.pk] = AreaTotal(int(counts["n"].sum()) if cover.months else None, cover)
    return out, per_area
