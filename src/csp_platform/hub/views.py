"""The hub page, its data endpoints and its exports: parse the filters, read, render.

Every view here is partnership-scoped and declares its permission with ``@requires``; the
JSON endpoints are ordinary views behind the same rules. Each request's filters are
resolved once into a :class:`~csp_platform.incidents.scope.Scope` with the membership's
access (:class:`Read`); the page and the endpoints read the same selectors with it, so the
map, the chart, the tables and the CSV files agree, and say the same words where no loaded
source covers the selection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import partial, wraps
from typing import Any

import numpy as np
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from csp_platform.analysis import selectors as analysis
from csp_platform.core import audit
from csp_platform.core import services as core_services
from csp_platform.core.cache import cached
from csp_platform.core.errors import BadQuery
from csp_platform.core.output import render as render_rows
from csp_platform.core.permissions import Perm, requires, role_allows
from csp_platform.hub import charts, geo, selectors
from csp_platform.hub.forms import FilterForm
from csp_platform.hub.selectors import Filters
from csp_platform.incidents.scope import Scope


class Read:
    """One request's form, filters and scope (an area outside the partnership is a 404)."""

    def __init__(self, request: HttpRequest) -> None:
        membership = request.membership  # type: ignore[attr-defined]
        self.partnership = membership.partnership
        self.role = membership.role
        self.choices = selectors.filter_choices(membership)
        self.form = FilterForm(request.GET, self.choices)
        self.form.is_valid()
        self.filters: Filters = self.form.filters()
        self.scope: Scope = selectors.scope_for(membership, self.filters)
        self.coverage = selectors.coverage(self.scope)
        self.query = urlencode(self.filters.params(), doseq=True)

    @property
    def label(self) -> str:
        """Where the figures are for: the area (a ward with its generation) or the
        partnership's name."""
        return self.scope.label if self.scope.area is not None else self.partnership.name

    @property
    def errors(self) -> dict[str, list[str]]:
        return {k: [str(e) for e in v] for k, v in self.form.errors.items()}

    @property
    def summary(self) -> str:
        """The filters in words: "Categories: Burglary. Sources: all. Themes: all."."""
        f, c = self.filters, self.choices

        def names(codes: tuple[str, ...], items: list[Any]) -> str:
            chosen = [i.name for i in items if i.code in codes]
            return ", ".join(chosen) if chosen else "all"

        return (
            f"Themes: {names(f.themes, c.themes)}. Categories: {names(f.categories, c.categories)}."
            f" Sources: {names(f.sources, c.sources)}."
        )


@require_GET
@requires(Perm.VIEW_AGGREGATES)
def hub(request: HttpRequest, partnership: str) -> HttpResponse:
    read = Read(request)
    wards = selectors.ward_figures(read.scope, read.filters.measure)
    trend = selectors.trend(read.scope)
    rows, notes = selectors.breakdown(read.scope)
    context = {
        "read": read,
        "wards": wards,
        "trend": trend,
        "total": selectors.total(trend),
        "chart": _trend_chart(read, trend),
        "breakdown": rows,
        "notes": list(dict.fromkeys(n for n in notes + wards.notes if n != read.coverage.message)),
        "legend": _classes(wards),
        "map": _map_config(request, read),
        "hotspot_legend": [
            (colour, f"{20 * i}% to {20 * (i + 1)}%") for i, colour in enumerate(geo.YLORRD_5)
        ][1:],
    }
    status = 400 if read.form.errors else 200
    return render(request, "hub/hub.html", context, status=status)


def _trend_chart(read: Read, trend: list[selectors.TrendPoint]) -> str:
    months = [p.month for p in trend]
    described = ", ".join(
        f"{p.month:%b %Y}: {'no data' if p.incidents is None else p.incidents}" for p in trend
    )
    return charts.line_chart(
        months,
        [charts.Series("Incidents", [p.incidents for p in trend])],
        title=f"Incidents per month, {read.label}",
        description=f"Incidents per month with the filters chosen. {described}.",
        y_label="Incidents",
    )


def _classes(wards: selectors.WardTable) -> list[charts.ColourClass]:
    decimals = 1 if wards.measure == "rate" else 0
    return charts.quantile_classes([wards.value(r) for r in wards.rows], decimals=decimals)


def _map_config(request: HttpRequest, read: Read) -> dict[str, Any]:
    slug = read.partnership.slug
    can = request.membership  # type: ignore[attr-defined]

    def url(name: str) -> str:
        return f"{reverse(name, args=[slug])}?{read.query}"

    return {
        "data": url("hub:map_data"),
        "hotspots": url("hub:hotspots_data") if role_allows(can.role, Perm.VIEW_HOTSPOTS) else "",
        "points": url("hub:points_data") if role_allows(can.role, Perm.VIEW_POINTS) else "",
        "tiles": settings.CSP_MAP_TILES,
        "attribution": settings.CSP_MAP_ATTRIBUTION,
        "bounds": selectors.bounds(read.scope.wards),
    }


def _bad_request(read: Read) -> JsonResponse:
    return JsonResponse({"errors": read.errors}, status=400)


def with_filters(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give the view the request's :class:`Read`; bad filters answer 400 with the errors.

    Goes inside ``@requires``, which has set the membership the filters are read against.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        read = Read(request)
        if read.form.errors:
            return _bad_request(read)
        return view(request, read, *args, **kwargs)

    return wrapper


@require_GET
@requires(Perm.VIEW_AGGREGATES)
@with_filters
def map_data(request: HttpRequest, read: Read, partnership: str) -> JsonResponse:
    """Wards of the scope as GeoJSON, with their counts, rates, rank and map colour."""
    wards = selectors.ward_figures(read.scope, read.filters.measure)
    classes = _classes(wards)
    by_code = {w.code: w for w in read.scope.wards}
    features = []
    for row in wards.rows:
        properties = {
            **asdict(row),
            "value": wards.value(row),
            "fill": charts.colour_for(wards.value(row), classes),
            "url": reverse("hub:ward", args=[partnership, row.code]) + f"?{read.query}",
        }
        geometry = selectors.area_geometry_json(by_code[row.code])
        features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    return JsonResponse(
        {
            "type": "FeatureCollection",
            "features": features,
            "measure": wards.measure,
            "measure_label": selectors.MEASURES[wards.measure],
            "generation": wards.generation,
            "classes": [
                {**asdict(c), "label": c.label(1 if wards.measure == "rate" else 0)}
                for c in classes
            ],
            "filters": read.filters.params(),
            "notes": wards.notes,
            "no_data": read.coverage.message or None,
        }
    )


@require_GET
@requires(Perm.VIEW_AGGREGATES)
@with_filters
def trend_data(request: HttpRequest, read: Read, partnership: str) -> JsonResponse:
    trend = selectors.trend(read.scope)
    return JsonResponse(
        {
            "area": read.label,
            "filters": read.filters.params(),
            "months": [{"month": p.label, "incidents": p.incidents} for p in trend],
            "no_data": read.coverage.message or None,
        }
    )


@require_GET
@requires(Perm.VIEW_POINTS)
@with_filters
def points_data(request: HttpRequest, read: Read, partnership: str) -> JsonResponse:
    """Incidents grouped by published (police.uk snap) point; never exact locations."""
    found = selectors.points_for(request.membership, read.scope)  # type: ignore[attr-defined]
    audit.record(
        action=audit.Action.CONSULTATION,
        request=request,
        target=scope_target(read),
        detail={"layer": "points", "filters": read.filters.params(), "points": len(found.points)},
    )
    return JsonResponse(
        {
            "points": [asdict(p) for p in found.points],
            "truncated": found.truncated,
            "not_published": found.not_shown,
            "filters": read.filters.params(),
            "no_data": read.coverage.message or None,
        }
    )


@require_GET
@requires(Perm.VIEW_HOTSPOTS)
@with_filters
def hotspots_data(request: HttpRequest, read: Read, partnership: str) -> JsonResponse:
    """Kernel-density hotspots of the scope on a BNG grid (250 m; 100 m for a ward)."""
    cell = 100 if read.scope.area is not None and read.scope.area.level == "ward" else 250
    features: list[dict[str, Any]] = []
    notes: list[str] = []
    for area in read.scope.totals_from:
        scope = read.scope.for_area(area)
        layer = cached(
            ["hotspots", cell, *scope.cache_key()],
            partial(_hotspot_layer, scope, cell),
            audience=scope.access.audience,
        )
        features += layer["features"]
        notes += [n for n in layer["notes"] if n not in notes]
    title = f"Kernel density, {cell} m cells"
    message = read.coverage.message or None
    return JsonResponse(
        {
            "type": "FeatureCollection",
            "features": features if message is None else [],
            "title": title,
            "notes": [message] if message else notes,
            "no_data": message,
        }
    )


def _hotspot_layer(scope: Scope, cell: int) -> dict[str, Any]:
    try:
        report = analysis.hotspots_for_area(
            scope, scope.period_or_fail, cell_size=cell, method="kde"
        )
    except BadQuery as exc:
        return {"features": [], "notes": [str(exc)]}
    layer = geo.hotspot_features(report.cells, cell, "kde")
    return {"features": layer["features"], "notes": list(report.notes)}


# ----------------------------------------------------------------------------------------
# Exports: aggregates for roles allowed, points only for roles allowed; each one recorded


def _aggregate_rows(read: Read, table: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of an aggregate export. A figure without data is blank, never 0, and its
    ``note`` says why in words (the selection not covered, or a month without data)."""
    uncovered = read.coverage.message
    if table == "wards":
        wards = selectors.ward_figures(read.scope, read.filters.measure)
        rows = [{**asdict(r), "rate_per_1000": r.rate, "note": uncovered} for r in wards.rows]
        columns = ["rank", "code", "name", "generation", "incidents", "population"]
        return rows, [*columns, "rate_per_1000", "note"]
    if table == "trend":
        gap = uncovered or "No selected source has data for this month."
        trend = selectors.trend(read.scope)
        rows = [
            {
                "month": p.label,
                "incidents": p.incidents,
                "note": "" if p.incidents is not None else gap,
            }
            for p in trend
        ]
        return rows, ["month", "incidents", "note"]
    found, _ = selectors.breakdown(read.scope)
    columns = ["theme", "theme_name", "category", "category_name", "incidents", "aggregate_count"]
    rows = [{**asdict(r), "note": ""} for r in found]
    if uncovered:
        rows.append({c: "" for c in columns} | {"note": uncovered})
    return rows, [*columns, "note"]


def scope_target(read: Read) -> tuple[str, str]:
    """The audit target of a read: the area asked for, or the whole partnership."""
    if read.scope.area is not None:
        return ("area", read.scope.area.code)
    return ("partnership", read.partnership.slug)


def csv_download(
    request: HttpRequest,
    kind: str,
    parameters: dict[str, Any],
    rows: int,
    body: str,
    filename: str,
    *,
    point_level: bool,
    target: tuple[str, str],
) -> HttpResponse:
    """Record the export (an audited disclosure: who, role, partnership, what, filters),
    then hand the file over."""
    core_services.export_record(
        request=request,
        kind=kind,
        parameters=parameters,
        rows=rows,
        point_level=point_level,
        target=target,
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv(
    request: HttpRequest,
    read: Read,
    kind: str,
    rows: list[dict[str, Any]],
    columns: list[str],
    *,
    point_level: bool,
) -> HttpResponse:
    f = read.filters
    name = f"{read.partnership.slug}-{kind}-{f.period[0]:%Y-%m}-{f.period[1]:%Y-%m}.csv"
    body = render_rows(rows, columns, "csv") + "\n"
    return csv_download(
        request,
        kind,
        f.params(),
        len(rows),
        body,
        name,
        point_level=point_level,
        target=scope_target(read),
    )


@require_GET
@requires(Perm.EXPORT_AGGREGATES)
@with_filters
def export_aggregates(
    request: HttpRequest, read: Read, partnership: str, table: str
) -> HttpResponse:
    rows, columns = _aggregate_rows(read, table)
    return _csv(request, read, table, rows, columns, point_level=False)


def coordinate_text(value: float) -> str:
    """A longitude or latitude as published: every digit the source gave (police.uk gives
    six decimals, about 0.1 m; trailing zeros kept), never rounded for display."""
    return np.format_float_positional(value, unique=True, min_digits=6, trim="k")


@require_GET
@requires(Perm.EXPORT_POINTS)
@with_filters
def export_points(request: HttpRequest, read: Read, partnership: str) -> HttpResponse:
    found = selectors.points_for(
        request.membership,  # type: ignore[attr-defined]
        read.scope,
        action="export",
        limit=100_000,
    )
    rows = [
        {**asdict(p), "lon": coordinate_text(p.lon), "lat": coordinate_text(p.lat)}
        for p in found.points
    ]
    return _csv(
        request, read, "points", rows, ["lon", "lat", "location", "incidents"], point_level=True
    )
