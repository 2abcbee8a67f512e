"""Reads of the incident store: counts by any breakdown, and the data-quality report.

Counts take a :class:`~csp_platform.incidents.scope.Scope` (area with its ward generation,
sources, categories and themes), resolved once at the edge. They come from the monthly table
(:class:`AreaMonthCount`) wherever the question can be answered from it, and otherwise from
the incident rows themselves (two area levels at once, a custom area, an older ward
generation: points in its polygons). Both paths give the same numbers; tests hold them to it.
Incident counts and aggregate-return counts are reported in separate columns, never summed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from django.db.models import Count, Max, Min, Q, QuerySet, Sum

from csp_analytics.geo import assign_points
from csp_platform.areas.models import Area
from csp_platform.areas.selectors import area_geometry
from csp_platform.core.errors import BadQuery
from csp_platform.core.models import Organisation, Partnership
from csp_platform.incidents.models import (
    AggregateRecord,
    AreaMonthCount,
    Category,
    Crosswalk,
    ImportBatch,
    Incident,
    Source,
    Theme,
    incident_lookup,
)
from csp_platform.incidents.scope import (
    Scope,
    areas_of_level,
    months_with_data,
    newest_generation,
    selection_coverage,
)

FIELDS = ("month", "category", "theme", "source", "ward", "lsoa", "district")
AREA_FIELDS = ("ward", "lsoa", "district")


@dataclass(frozen=True)
class CountQuery:
    """The breakdown and the months (either end may be open); the rest is the scope's."""

    by: tuple[str, ...]
    month_from: date | None = None
    month_to: date | None = None

    def __post_init__(self) -> None:
        unknown = [f for f in self.by if f not in FIELDS]
        if unknown or not self.by:
            raise BadQuery(
                f"--by takes a comma list of {', '.join(FIELDS)}; "
                f"got {', '.join(unknown) or 'nothing'}"
            )
        if len(set(self.by)) != len(self.by):
            raise BadQuery("--by names a field twice")
        if self.month_from and self.month_to and self.month_from > self.month_to:
            raise BadQuery("--from is after --to")


@dataclass
class CountTable:
    """Rows of counts, with the columns they came in and notes on what was left out."""

    columns: list[str]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    path: str = "monthly"


def _labels() -> dict[str, dict[int | None, tuple[str, str]]]:
    Labels = dict[int | None, tuple[str, str]]  # noqa: N806
    cats: Labels = {c.id: (c.code, c.name) for c in Category.objects.select_related("theme")}
    themes: Labels = {t.id: (t.code, t.name) for t in Theme.objects.all()}
    sources: Labels = {s.id: (s.code, s.name) for s in Source.objects.all()}
    none: Labels = {None: ("unknown", "Unknown category")}
    return {"category": {**cats, **none}, "theme": {**themes, **none}, "source": sources}


def _area_labels(ids: set[int]) -> dict[int | None, tuple[str, str]]:
    found: dict[int | None, tuple[str, str]] = {
        a.id: (a.code, f"{a.name} ({a.generation})")
        for a in Area.objects.filter(id__in=ids).only("id", "code", "name", "generation")
    }
    found[None] = ("(none)", "Not in any imported area")
    return found


def _months(q: CountQuery) -> Q:
    cond = Q()
    if q.month_from:
        cond &= Q(month__gte=q.month_from)
    if q.month_to:
        cond &= Q(month__lte=q.month_to)
    return cond


def _filters(scope: Scope) -> Q:
    """The sources named (any kind: aggregate returns too) and the categories asked for."""
    cond = Q()
    if scope.sources:
        cond &= Q(source__code__in=scope.sources)
    if scope.category_ids is not None:
        cond &= Q(category_id__in=scope.category_ids)
    return cond


def counts(scope: Scope, q: CountQuery) -> CountTable:
    """Incident and aggregate-return counts in the scope grouped by ``q.by``.

    Wards are those of the scope's generation (the newest unless asked): the monthly table
    answers for the newest, points in polygons for an older one.
    """
    area = scope.area
    area_fields = [f for f in q.by if f in AREA_FIELDS]
    old_wards = "ward" in area_fields and scope.generation != newest_generation("ward")
    rollup_ok = (
        len(area_fields) <= 1
        and not old_wards
        and (
            area is None
            or (not area_fields and scope.linked)
            or (area.level == "district" and bool(area_fields) and area_fields[0] != "district")
        )
    )
    if not rollup_ok:
        return _counts_from_incidents(scope, q)
    field_ = area_fields[0] if area_fields else None
    if field_ != "lsoa" and not (area is not None and area.level == "lsoa"):
        return _counts_from_monthly(scope, q, field_)
    # Incidents are not kept in the monthly table by LSOA (it would be nearly as large as
    # the incident table): count their rows, and take aggregate returns from the table.
    rows = _counts_from_incidents(scope, q)
    returns = _counts_from_monthly(scope, q, field_, kinds=("aggregate",))
    return _merge(rows, returns)


def not_covered(scope: Scope, q: CountQuery) -> str:
    """Words for a selection that no loaded source covers over the query's months ("No
    source that records deliberate fires ... has been loaded for these months."), or ""."""
    held = months_with_data()
    if not held:
        return "No incident source has been loaded."
    first, last = q.month_from or held[0], q.month_to or held[-1]
    return selection_coverage(scope.with_period((first, last))).message


def _merge(rows: CountTable, returns: CountTable) -> CountTable:
    keys = [c for c in rows.columns if c not in ("incidents", "aggregate_count")]
    merged = {tuple(r[k] for k in keys): dict(r) for r in rows.rows}
    for r in returns.rows:
        row = merged.setdefault(tuple(r[k] for k in keys), {**r, "incidents": None})
        row["aggregate_count"] = r["aggregate_count"]
    ordered = sorted(merged.values(), key=lambda r: tuple(str(r[k]) for k in keys))
    return CountTable(rows.columns, ordered, returns.notes, "incidents+monthly")


def _counts_from_monthly(
    scope: Scope,
    q: CountQuery,
    area_field: str | None,
    kinds: tuple[str, ...] = ("incident", "aggregate"),
) -> CountTable:
    area = scope.area
    qs = AreaMonthCount.objects.filter(_filters(scope)).filter(kind__in=kinds)
    if area_field:
        qs = qs.filter(area__level=area_field)
        if area is not None:
            qs = qs.filter(area__parent=area)
        qs = qs.filter(area__generation=newest_generation(area_field))
    elif area is not None:
        qs = qs.filter(area=area)
    else:
        qs = qs.filter(area__isnull=True)
    notes = []
    monthly = qs.filter(period_months=1).filter(_months(q))
    longer = qs.filter(period_months__gt=1)
    if "month" in q.by:
        skipped = longer.filter(_months(q)).count()
        if skipped:
            notes.append(f"{skipped} annual aggregate counts are left out of a monthly breakdown")
        longer = longer.none()
    else:
        if q.month_from:
            longer = longer.filter(month__gte=q.month_from)
        if q.month_to:
            longer = longer.filter(month__lte=_add_months(q.month_to, -11))
    group = {
        "month": "month",
        "category": "category_id",
        "theme": "category__theme_id",
        "source": "source_id",
    }
    keys = [group.get(f, "area_id") for f in q.by]
    records: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for part in (monthly, longer):
        for row in part.values(*keys, "kind").annotate(total=Sum("n")):
            records[tuple(row[k] for k in keys)][row["kind"]] += row["total"]
    return _table(q, keys, records, notes, "monthly")


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _counts_from_incidents(scope: Scope, q: CountQuery) -> CountTable:
    area = scope.area
    qs = Incident.objects.filter(_filters(scope)).filter(_months(q))
    area_fields = [f for f in q.by if f in ("ward", "lsoa")]
    old_wards: list[Area] = []
    if "ward" in q.by and scope.generation != newest_generation("ward"):
        # Wards of an older generation: each incident's point in their polygons.
        parent = area if area is not None and area.level == "district" else None
        old_wards = areas_of_level("ward", scope.access, parent=parent, generation=scope.generation)
        area_fields = [f for f in area_fields if f != "ward"]
    if area is not None and area.level == "district" and area_fields:
        # "wards of a district": the district's own wards, each counted whole (as the
        # monthly path does), not the part of each ward inside the district outline.
        qs = qs.filter(**{f"{incident_lookup(area_fields[0])}__parent": area})
        area = None
    elif area is not None and area.level == "district" and old_wards:
        area = None  # the district's wards of that generation, each counted whole
    if area is not None and scope.linked:
        qs = qs.filter(**{incident_lookup(area.level): area})  # the link the import made
        area = None
    if area is not None:
        minx, miny, maxx, maxy = area.min_lon, area.min_lat, area.max_lon, area.max_lat
        qs = qs.filter(
            place__lon__gte=minx, place__lon__lte=maxx, place__lat__gte=miny, place__lat__lte=maxy
        )
    cols = [
        "month",
        "category_id",
        "category__theme_id",
        "source_id",
        "ward_id",
        "lsoa_id",
        "district_id",
        "lon",
        "lat",
    ]
    frame = pl.DataFrame(
        list(qs.values_list(*map(incident_lookup, cols))), schema=cols, orient="row"
    )
    if area is not None and frame.height:
        inside = (
            assign_points(frame["lon"].to_numpy(), frame["lat"].to_numpy(), [area_geometry(area)])
            == 0
        )
        frame = frame.filter(pl.Series(inside))
    if old_wards:
        polygons = list(Area.objects.filter(pk__in=[w.pk for w in old_wards]))
        where = assign_points(
            frame["lon"].cast(pl.Float64).to_numpy(),
            frame["lat"].cast(pl.Float64).to_numpy(),
            [area_geometry(w) for w in polygons],
        )
        ids = np.array([w.pk for w in polygons] + [-1], dtype=np.int64)
        frame = frame.with_columns(pl.Series("ward_id", ids[where], dtype=pl.Int64))
        frame = frame.filter(pl.col("ward_id") >= 0)
    group = {
        "month": "month",
        "category": "category_id",
        "theme": "category__theme_id",
        "source": "source_id",
        "ward": "ward_id",
        "lsoa": "lsoa_id",
        "district": "district_id",
    }
    keys = [group[f] for f in q.by]
    records: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    if frame.height:
        for row in frame.group_by(keys).agg(pl.len().alias("n")).iter_rows(named=True):
            records[tuple(row[k] for k in keys)]["incident"] += row["n"]
    notes = ["counted from incident rows (aggregate returns are not included in this breakdown)"]
    return _table(q, keys, records, notes, "incidents")


def _table(
    q: CountQuery,
    keys: list[str],
    records: dict[tuple[Any, ...], dict[str, float]],
    notes: list[str],
    path: str,
) -> CountTable:
    labels = _labels()
    area_ids = {k for key in records for k, f in zip(key, q.by) if f in AREA_FIELDS and k}
    areas = _area_labels(area_ids)
    columns: list[str] = []
    for f in q.by:
        columns.append(f)
        if f in AREA_FIELDS or f in ("category", "theme"):
            columns.append(f"{f}_name")
    columns += ["incidents", "aggregate_count"]
    rows = []
    for key, values in records.items():
        row: dict[str, Any] = {}
        for f, value in zip(q.by, key):
            if f == "month":
                row["month"] = value.strftime("%Y-%m")
            elif f in AREA_FIELDS:
                row[f], row[f"{f}_name"] = areas.get(value, (str(value), ""))
            elif f in ("category", "theme"):
                row[f], row[f"{f}_name"] = labels[f].get(value, ("unknown", "Unknown"))
            else:
                row[f] = labels["source"].get(value, (str(value), ""))[0]
        incidents = values.get("incident")
        row["incidents"] = None if incidents is None else int(incidents)
        agg = values.get("aggregate")
        row["aggregate_count"] = None if agg is None else (int(agg) if agg == int(agg) else agg)
        rows.append(row)
    rows.sort(key=lambda r: tuple(str(r[f]) for f in q.by))
    return CountTable(columns, rows, notes, path)


# ----------------------------------------------------------------------------------------
# Data quality


@dataclass(frozen=True)
class SourceQuality:
    code: str
    name: str
    organisation: str
    kind: str
    rows: int
    without_location: int
    outside_areas: int
    unknown_categories: dict[str, int]
    excluded_by_mapping: int
    first_month: str | None
    last_month: str | None
    months_covered: int
    months_missing: list[str]
    batches: int
    identity_rule: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _month_span(first: date, last: date) -> list[date]:
    out, current = [], first
    while current <= last:
        out.append(current)
        current = _add_months(current, 1)
    return out


def sources_visible_to(partnership: Partnership) -> QuerySet[Source]:
    """The sources a partnership sees: those created through its own pages, and the shared
    ones (imported by the operator) of the organisations it is made of, e.g. the force's
    police.uk source. Another partnership's uploads are never among them."""
    return Source.objects.filter(
        Q(partnership=partnership)
        | Q(partnership__isnull=True, organisation__in=partnership.organisations.all())
    )


def batch_list_visible_to(partnership: Partnership) -> QuerySet[ImportBatch]:
    """Imports a partnership's data page lists: into its visible sources, and made through
    its own upload page or by the operator (never another partnership's uploads)."""
    return (
        ImportBatch.objects.filter(source__in=sources_visible_to(partnership))
        .filter(Q(partnership=partnership) | Q(partnership__isnull=True))
        .select_related("source", "organisation")
        .order_by("-started_at")
    )


def quality_report(
    source_codes: tuple[str, ...] = (), *, partnership: Partnership | None = None
) -> list[SourceQuality]:
    """Per source: rows, unlocated rows, rows outside every area, unknown categories, months
    covered and months missing inside the covered span (a gap, never a zero).

    ``partnership``: only the sources it sees (:func:`sources_visible_to`); None (the
    operator's ``csp quality``): every source."""
    sources = (
        (sources_visible_to(partnership) if partnership is not None else Source.objects.all())
        .select_related("organisation")
        .order_by("code")
    )
    if source_codes:
        sources = sources.filter(code__in=source_codes)
        missing = set(source_codes) - set(sources.values_list("code", flat=True))
        if missing:
            raise BadQuery(f"no source called {', '.join(sorted(missing))}")
    return [_source_quality(s, partnership) for s in sources]


def _source_quality(source: Source, partnership: Partnership | None = None) -> SourceQuality:
    batches = ImportBatch.objects.filter(source=source)
    if partnership is not None:  # another partnership's uploads are not counted either
        batches = batches.filter(Q(partnership=partnership) | Q(partnership__isnull=True))
    excluded = batches.aggregate(n=Sum("rows_excluded"), b=Count("id"))
    if source.kind == Source.Kind.AGGREGATE:
        qs = AggregateRecord.objects.filter(source=source)
        stats = qs.aggregate(
            rows=Count("id"),
            first=Min("month"),
            last=Max("month"),
            outside=Count("id", filter=Q(area__isnull=True)),
        )
        without = 0
        outside = stats["outside"]
    else:
        qs = Incident.objects.filter(source=source)  # type: ignore[assignment]
        stats = qs.aggregate(
            rows=Count("id"),
            first=Min("month"),
            last=Max("month"),
            without=Count("id", filter=Q(place__lon__isnull=True)),
            outside=Count(
                "id",
                filter=Q(
                    place__lon__isnull=False,
                    place__lsoa__isnull=True,
                    ward__isnull=True,
                    district__isnull=True,
                ),
            ),
        )
        without, outside = stats["without"], stats["outside"]
    unknown = dict(
        qs.filter(category__isnull=True)
        .values_list("source_category")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    months = set(qs.values_list("month", flat=True).distinct())
    span = _month_span(stats["first"], stats["last"]) if stats["first"] else []
    if source.kind == Source.Kind.AGGREGATE:
        periods = dict(qs.values_list("month", "period_months").distinct())
        span = [m for m in span if not _covered_by_longer(m, periods)]
    return SourceQuality(
        code=source.code,
        name=source.name,
        organisation=source.organisation.name,
        kind=source.kind,
        rows=stats["rows"],
        without_location=without,
        outside_areas=outside,
        unknown_categories=unknown,
        excluded_by_mapping=excluded["n"] or 0,
        first_month=stats["first"].strftime("%Y-%m") if stats["first"] else None,
        last_month=stats["last"].strftime("%Y-%m") if stats["last"] else None,
        months_covered=len(months),
        months_missing=[m.strftime("%Y-%m") for m in span if m not in months],
        batches=excluded["b"],
        identity_rule=source.identity_rule,
    )


def _covered_by_longer(month: date, periods: dict[date, int]) -> bool:
    """Inside an annual return's period, the months after its first are not 'missing'."""
    return any(start < month < _add_months(start, n) for start, n in periods.items() if n > 1)


def months_array(values: list[date]) -> np.ndarray:
    return np.array([np.datetime64(v, "M") for v in values])


# ----------------------------------------------------------------------------------------
# Categories and crosswalk history


def category_list() -> list[tuple[str, str, str]]:
    """(code, name, theme name) of every canonical category."""
    return list(
        Category.objects.select_related("theme")
        .order_by("theme__order", "name")
        .values_list("code", "name", "theme__name")
    )


def crosswalk_history(scheme: str, organisation: Organisation | None) -> list[str]:
    """One line per version of ``organisation``'s crosswalk for ``scheme`` (None: the
    reference), newest first: who made it, when (UTC), what it replaced and how it differs
    from that version (values added, removed or moved to another category)."""
    versions = (
        Crosswalk.objects.filter(scheme=scheme, organisation=organisation)
        .select_related("replaces", "replaces__organisation")
        .order_by("-version")
    )
    lines = []
    for cw in versions:
        after = _entries(cw)
        before = _entries(cw.replaces) if cw.replaces else {}
        changed = sorted(v for v in after.keys() & before.keys() if after[v] != before[v])
        lines.append(
            f"{cw}: {cw.created_at:%Y-%m-%d %H:%M} UTC by {cw.created_by or 'unknown'}; "
            f"replaces {cw.replaces or 'nothing'}; {len(after)} values "
            f"(+{len(after.keys() - before.keys())} -{len(before.keys() - after.keys())} "
            f"changed {len(changed)}); {cw.note}"
        )
    return lines or [f"no {scheme!r} crosswalk of {organisation or 'the reference'}"]


def _entries(crosswalk: Crosswalk) -> dict[str, str]:
    return {
        value: "excluded" if excluded else (code or "unknown")
        for value, code, excluded in crosswalk.entries.values_list(
            "source_value", "category__code", "excluded"
        )
    }
