"""From the incident store to arrays: what the analysis selectors count and map.

Three read paths, the same numbers (tests hold them to it):

* wards and districts of the newest generation: monthly counts from
  :class:`~csp_platform.incidents.models.AreaMonthCount` (kept by the import), rows through
  the incidents' ``ward``/``district`` links and their ``(ward, month)``/``(district, month)``
  indexes;
* LSOAs of the newest generation: the incidents' ``lsoa`` link (the monthly table does not
  keep LSOAs, docs/data-model.md);
* any other area (a custom area, an MSOA, an older ward generation): the rows in its bounding
  box, kept when the point lies in its polygon (:func:`csp_analytics.geo.assign_points`).
  Rows without coordinates cannot be placed in such an area.

**Months with data.** A month counts only when every source that contributes to the area
has data for it (any row at all, anywhere). A month a source has not published is a gap, and
is left out of the period, never counted as zero; the selectors report it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely
from django.db.models import Count, Max, Q, Sum

from csp_analytics.geo import assign_points, to_bng
from csp_platform.analysis.periods import month_label, month_number
from csp_platform.areas.models import Area
from csp_platform.areas.selectors import area_geometry, area_get_by_code
from csp_platform.core.errors import BadQuery
from csp_platform.incidents.models import (
    AreaMonthCount,
    Category,
    Incident,
    Source,
    Theme,
    incident_lookup,
)

LINKED_LEVELS = ("lsoa", "ward", "district")
MONTHLY_LEVELS = ("ward", "district")  # the levels AreaMonthCount keeps
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


@dataclass(frozen=True)
class Scope:
    """What to read: one area, the incident sources and the categories asked for.

    ``category_ids`` None means every category, including incidents whose category is not
    yet known to the crosswalk.
    """

    area: Area
    source_ids: tuple[int, ...]
    category_ids: tuple[int, ...] | None
    linked: bool

    @property
    def ref(self) -> AreaRef:
        return AreaRef.of(self.area)

    @property
    def monthly(self) -> bool:
        """Does the monthly table hold this area's counts?"""
        return self.linked and self.area.level in MONTHLY_LEVELS


def scope_for(
    area_code: str,
    *,
    sources: Sequence[str] = (),
    categories: Sequence[str] = (),
    themes: Sequence[str] = (),
    level: str | None = None,
) -> Scope:
    """Resolve codes to a :class:`Scope`; BadQuery naming whatever is unknown."""
    area = area_get_by_code(area_code, level=level)
    return Scope(area, source_ids(sources), category_ids(categories, themes), is_linked(area))


def source_ids(codes: Sequence[str]) -> tuple[int, ...]:
    qs = Source.objects.filter(kind=Source.Kind.INCIDENTS)
    if not codes:
        return tuple(qs.order_by("id").values_list("id", flat=True))
    found = dict(qs.filter(code__in=codes).values_list("code", "id"))
    missing = sorted(set(codes) - set(found))
    if missing:
        known = ", ".join(qs.order_by("code").values_list("code", flat=True)) or "none"
        raise BadQuery(f"no incident source called {', '.join(missing)} (known: {known})")
    return tuple(sorted(found.values()))


def category_ids(categories: Sequence[str], themes: Sequence[str]) -> tuple[int, ...] | None:
    """Category ids for category and theme codes (both given: categories of those themes)."""
    if not categories and not themes:
        return None
    qs = Category.objects.all()
    if categories:
        known = set(Category.objects.filter(code__in=categories).values_list("code", flat=True))
        if missing := sorted(set(categories) - known):
            raise BadQuery(f"no category called {', '.join(missing)} (see `csp crosswalk`)")
        qs = qs.filter(code__in=categories)
    if themes:
        known = set(Theme.objects.filter(code__in=themes).values_list("code", flat=True))
        if missing := sorted(set(themes) - known):
            all_themes = ", ".join(Theme.objects.values_list("code", flat=True))
            raise BadQuery(f"no theme called {', '.join(missing)} (themes: {all_themes})")
        qs = qs.filter(theme__code__in=themes)
    return tuple(qs.values_list("id", flat=True))


def is_linked(area: Area, newest: dict[str, str] | None = None) -> bool:
    """Are incidents linked to this area by foreign key (newest generation of its level)?"""
    if area.level not in LINKED_LEVELS:
        return False
    newest = newest if newest is not None else newest_generations()
    return bool(area.generation == newest.get(area.level))


def newest_generations() -> dict[str, str]:
    rows = Area.objects.values_list("level").annotate(g=Max("generation")).order_by()
    return {level: g for level, g in rows}


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
            .filter(area=scope.area, kind=AreaMonthCount.Kind.INCIDENT, period_months=1)
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

    One query for the areas in the monthly table, one for linked LSOAs, and the rows of
    each other area.
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
    for a in areas:
        if a.pk not in out:
            out[a.pk] = monthly_counts(
                Scope(a, scope.source_ids, scope.category_ids, False), first, last
            )
    return out


# ----------------------------------------------------------------------------------------
# Rows and points


def area_rows(scope: Scope, first: date | None, last: date, columns: Sequence[str]) -> pl.DataFrame:
    """The area's incident rows (the ``columns`` asked for), months first..last."""
    qs = Incident.objects.filter(_filters(scope, first, last))
    if scope.linked:
        qs = qs.filter(**{incident_lookup(f"{scope.area.level}_id"): scope.area.pk})
        return _frame(qs, list(columns))
    a = scope.area
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

    Linked areas are grouped by the database; other areas read their rows and group them.
    ``located`` keeps only incidents with coordinates.
    """
    first, last = min(months), max(months)
    if scope.linked:
        qs = Incident.objects.filter(_filters(scope, first, last)).filter(
            **{incident_lookup(f"{scope.area.level}_id"): scope.area.pk}
        )
        if len(months) < month_number(last) - month_number(first) + 1:
            qs = qs.filter(month__in=list(months))
        if located:
            qs = qs.filter(place__lon__isnull=False, place__lat__isnull=False)
        rows = qs.values_list(*map(incident_lookup, keys)).annotate(total=Count("id")).order_by()
        schema = {**{c: _TYPES.get(c, pl.Int64) for c in keys}, "n": pl.Int64}
        return pl.DataFrame(list(rows), schema=schema, orient="row")
    frame = area_rows(scope, first, last, list(dict.fromkeys([*keys, "lon", "month"])))
    frame = frame.filter(pl.col("month").is_in(list(months)))
    if located:
        frame = frame.filter(pl.col("lon").is_not_null())
    return frame.group_by(list(keys)).agg(pl.len().cast(pl.Int64).alias("n"))


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


def points(scope: Scope, first: date | None, last: date) -> Points:
    """Incidents with a location in the area, months first..last, as numpy arrays."""
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


def area_bng(area: Area) -> shapely.Geometry:
    """The area's outline in British National Grid metres (EPSG:27700)."""

    def project(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        e, n = to_bng(xy[:, 0], xy[:, 1])
        return np.column_stack([e, n])

    return shapely.transform(area_geometry(area), project)


# ----------------------------------------------------------------------------------------
# Which months have data


@dataclass(frozen=True)
class Coverage:
    """Months of a period with data, and the gaps (month -> sources without data)."""

    months: tuple[date, ...]
    gaps: dict[date, tuple[str, ...]]
    sources: tuple[str, ...]

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def month_numbers(self) -> tuple[int, ...]:
        return tuple(month_number(m) for m in self.months)

    def gap_labels(self) -> tuple[str, ...]:
        return tuple(month_label(m) for m in sorted(self.gaps))

    def note(self, what: str) -> str | None:
        if not self.gaps:
            return None
        if not self.sources:
            return f"{what}: no source has ever recorded an incident here, so no month has data."
        parts = [f"{month_label(m)} ({', '.join(s)})" for m, s in sorted(self.gaps.items())]
        return (
            f"{what}: no data for {'; '.join(parts)}. These months are gaps, left out of the "
            f"comparison (never counted as zero): {self.n_months} months with data are used."
        )


@dataclass(frozen=True)
class SourceCalendar:
    """The months each source has data for (any row at all, anywhere), over a span."""

    held: dict[int, set[date]]
    codes: dict[int, str]

    @classmethod
    def load(cls, source_ids: Iterable[int], first: date, last: date) -> SourceCalendar:
        held: dict[int, set[date]] = {s: set() for s in source_ids}
        rows = (
            AreaMonthCount.objects.filter(
                area__isnull=True,
                kind=AreaMonthCount.Kind.INCIDENT,
                source_id__in=list(held),
                month__gte=first,
                month__lte=last,
            )
            .values_list("source_id", "month")
            .distinct()
            .order_by()
        )
        for source_id, month in rows:
            held[source_id].add(month)
        codes = dict(Source.objects.filter(id__in=list(held)).values_list("id", "code"))
        return cls(held, codes)

    def with_data(self) -> list[int]:
        return [s for s, months in self.held.items() if months]

    def coverage(self, sources: Sequence[int], months: Sequence[date]) -> Coverage:
        """Months (of ``months``) in which every one of ``sources`` has data."""
        gaps: dict[date, tuple[str, ...]] = {}
        kept = []
        for m in months:
            lacking = tuple(sorted(self.codes[s] for s in sources if m not in self.held[s]))
            if lacking or not sources:
                gaps[m] = lacking
            else:
                kept.append(m)
        return Coverage(tuple(kept), gaps, tuple(sorted(self.codes[s] for s in sources)))


def covering_sources(
    areas: Sequence[Area], scope: Scope, counts: dict[int, pl.DataFrame], calendar: SourceCalendar
) -> dict[int, list[int]]:
    """The sources whose months decide each area's months with data.

    The sources with incidents in the area in the months counted. For an area with none:
    the sources that have ever recorded an incident there (a ward or district), or in its
    district (an LSOA or an area with a parent district), so that a force without data for
    the period leaves the area without data, not at zero; a ward or district no source has
    ever recorded in has no data at all. An area with no district to go by takes every
    source of the scope that has data in the months.
    """
    out = {
        a.pk: sorted(set(counts[a.pk].filter(pl.col("n") > 0)["source_id"].to_list()))
        for a in areas
    }
    newest = newest_generations()
    held_in: dict[int, list[int]] = defaultdict(list)  # area asked about -> areas it decides
    fallback: list[int] = []
    for a in areas:
        if out[a.pk]:
            continue
        if is_linked(a, newest) and a.level in MONTHLY_LEVELS:
            held_in[a.pk].append(a.pk)
        elif getattr(a, "parent_id", None) is not None:
            held_in[int(a.parent_id)].append(a.pk)  # type: ignore[arg-type]
        else:
            fallback.append(a.pk)
    if held_in:
        ever = (
            AreaMonthCount.objects.filter(
                area__in=list(held_in),
                kind=AreaMonthCount.Kind.INCIDENT,
                source_id__in=scope.source_ids,
            )
            .values_list("area_id", "source_id")
            .distinct()
            .order_by()
        )
        for where, source_id in ever:
            for area_id in held_in[where]:
                out[area_id].append(source_id)
    for area_id in fallback:
        out[area_id] = calendar.with_data()
    return {area_id: sorted(set(s)) for area_id, s in out.items()}


def covered(
    scope: Scope, counts: pl.DataFrame, months: Sequence[date], what: str
) -> tuple[Coverage, pl.DataFrame]:
    """The months of ``months`` with data from every source covering the area, and the
    counts of those months; BadQuery when no month has data."""
    calendar = SourceCalendar.load(scope.source_ids, min(months), max(months))
    sources = covering_sources([scope.area], scope, {scope.area.pk: counts}, calendar)
    cover = calendar.coverage(sources[scope.area.pk], months)
    if not cover.months:
        gaps = sorted({s for lacking in cover.gaps.values() for s in lacking})
        why = f" ({', '.join(gaps)} had none)" if gaps else ""
        raise BadQuery(
            f"{what}: no incident data for {month_label(min(months))} to "
            f"{month_label(max(months))} in {scope.area.name}{why}"
        )
    return cover, counts.filter(pl.col("month").is_in(list(cover.months)))


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


def newest_generation(level: str) -> str | None:
    gens = Area.objects.filter(level=level).values_list("generation", flat=True)
    return max(gens, default=None)


def level_areas(level: str, parent: Area | None = None) -> list[Area]:
    """The areas of a level (newest generation), optionally those of one parent district."""
    if level not in Area.Level.values:
        raise BadQuery(f"--level must be one of {', '.join(Area.Level.values)}, not {level!r}")
    qs = Area.objects.filter(level=level, generation=newest_generation(level))
    if parent is not None:
        qs = qs.filter(parent=parent)
    areas = list(qs.order_by("code"))
    if not areas:
        where = f" in {parent.name}" if parent else ""
        raise BadQuery(f"no {level} areas are imported{where} (see `csp import-areas`)")
    return areas


def child_wards(area: Area) -> list[Area]:
    """A district's wards (newest generation); a ward on its own."""
    if area.level == "ward":
        return [area]
    if area.level != "district":
        raise BadQuery(f"{area.code} is a {area.level}: this needs a district or a ward")
    return level_areas("ward", area)


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
