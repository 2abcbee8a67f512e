"""Ward profile, SIA and forecast pages: parse, call one analysis selector, render.

The numbers come from :mod:`csp_platform.analysis.selectors` (which call the pure
``csp_analytics`` library); nothing here computes a figure. Each view resolves one
:class:`~csp_platform.incidents.scope.Scope` with the membership's access and passes it
down. A ``BadQuery`` from a selector
(a period without data, say) becomes a 400 page with its message (core.middleware).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from csp_platform.analysis import selectors as analysis
from csp_platform.analysis.periods import Period, month_date
from csp_platform.areas.models import Area
from csp_platform.core import audit
from csp_platform.core.cache import cached
from csp_platform.core.errors import BadQuery
from csp_platform.core.permissions import Perm, requires, role_allows
from csp_platform.hub import charts, geo, selectors
from csp_platform.hub.forms import ComparisonForm, ForecastForm
from csp_platform.hub.views import csv_download
from csp_platform.incidents import scope as scopes
from csp_platform.incidents.scope import Scope

FORECAST_COVERAGE = 0.05
BACKTEST_MONTHS = 12


def _can(request: HttpRequest, perm: Perm) -> bool:
    return role_allows(request.membership.role, perm)  # type: ignore[attr-defined]


def _map_settings() -> dict[str, str]:
    return {"map_tiles": settings.CSP_MAP_TILES, "map_attribution": settings.CSP_MAP_ATTRIBUTION}


@require_GET
@requires(Perm.VIEW_AGGREGATES)
def ward_list(request: HttpRequest, partnership: str) -> HttpResponse:
    access = scopes.access_for(request.membership)  # type: ignore[attr-defined]
    found = scopes.areas_of_level("ward", access)
    wards = Area.objects.filter(pk__in=[w.pk for w in found]).select_related("parent")
    return render(request, "hub/ward_list.html", {"wards": wards})


@dataclass(frozen=True)
class Comparison:
    """The period and baseline a request asks for (defaults: newest three months with data
    against the three months with data before them), and the area when one is given."""

    form: ComparisonForm
    period: Period
    baseline: Period

    @classmethod
    def read(cls, request: HttpRequest) -> Comparison:
        membership = request.membership  # type: ignore[attr-defined]
        form = ComparisonForm(request.GET, selectors.filter_choices(membership))
        form.is_valid()
        return cls(form, *form.periods())

    def fields(self) -> list[tuple[str, str, date]]:
        return [
            ("from", "Period from", self.period[0]),
            ("to", "Period to", self.period[1]),
            ("baseline_from", "Compared with, from", self.baseline[0]),
            ("baseline_to", "Compared with, to", self.baseline[1]),
        ]

    def scope(
        self, request: HttpRequest, code: str | None = None, levels: tuple[str, ...] = ()
    ) -> Scope:
        """The request's scope: the area (default: the partnership's first district) with
        the generation and sources asked for, resolved with the membership's access."""
        membership = request.membership  # type: ignore[attr-defined]
        access = scopes.access_for(membership)
        code = code or self.form.cleaned_data.get("area") or _first_district(access).code
        return scopes.scope_resolve(
            access,
            code,
            period=self.period,
            sources=self.sources,
            generation=request.GET.get("generation") or None,
            levels=levels or scopes.SCOPE_LEVELS,
        )

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.form.cleaned_data.get("source") or ())


def _first_district(access: scopes.Access) -> Area:
    districts = access.district_areas()
    if not districts:
        raise BadQuery("this partnership has no districts yet (see `csp load-demo`)")
    return districts[0]


@require_GET
@requires(Perm.VIEW_AGGREGATES)
def ward(request: HttpRequest, partnership: str, code: str) -> HttpResponse:
    """Figures, trend, comparison with the partnership and force, repeat places, hotspots
    and emerging issues for one ward (repeat places and hotspots only for roles allowed)."""
    cmp = Comparison.read(request)
    scope = cmp.scope(request, code, levels=("ward",))
    area = scope.the_area
    profile = cached(
        ["ward", *scope.cache_key(), cmp.baseline],
        lambda: analysis.ward_profile(scope, cmp.period, cmp.baseline),
        audience=scope.access.audience,
    )
    context = {
        "area": area,
        "form": cmp.form,
        "periods": cmp.fields(),
        "profile": profile,
        "sia": profile.sia,
        "totals": profile.sia.totals(),
        "chart": _profile_chart(profile),
        "hotspots": _hotspot_map(profile.hotspots) if _can(request, Perm.VIEW_HOTSPOTS) else None,
        "outline": selectors.area_geometry_json(area),
        "show_places": _places_read(request, area, profile.sia),
        "query": urlencode({"from": f"{cmp.period[0]:%Y-%m}", "to": f"{cmp.period[1]:%Y-%m}"}),
        **_map_settings(),
    }
    return render(request, "hub/ward.html", context, status=400 if cmp.form.errors else 200)


def _places_read(request: HttpRequest, area: Area, report: Any) -> bool:
    """Whether the page shows the top repeat locations (map points); each showing is an
    audited consultation of point-level data."""
    if not _can(request, Perm.VIEW_POINTS):
        return False
    audit.record(
        action=audit.Action.CONSULTATION,
        request=request,
        target=("area", area.code),
        detail={"layer": "repeat_locations", "locations": len(report.top_locations)},
    )
    return True


def _profile_chart(profile: Any) -> str:
    described = ", ".join(
        f"{t.month:%b %Y}: {'no data' if t.total is None else t.total}" for t in profile.trend
    )
    return charts.line_chart(
        [t.month for t in profile.trend],
        [charts.Series("All incidents", [t.total for t in profile.trend])],
        title=f"Incidents per month in {profile.ward.name} ({profile.ward.generation} boundaries)",
        description=f"Incidents per month over the period and its baseline. {described}.",
        y_label="Incidents",
        chart_id="ward-trend",
    )


def _hotspot_map(report: Any) -> dict[str, Any] | None:
    if report is None or report.cell_size is None:
        return None
    layer = geo.hotspot_features(report.cells, report.cell_size, report.method)
    top = sorted(layer["features"], key=lambda f: -f["properties"]["value"])[:10]
    return {"geojson": layer, "top": [f["properties"] for f in top], "report": report}


def _sia_report(request: HttpRequest) -> tuple[Comparison, Area, Any]:
    cmp = Comparison.read(request)
    scope = cmp.scope(request)
    report = cached(
        ["sia", *scope.cache_key(), cmp.baseline],
        lambda: analysis.sia_for_area(scope, cmp.period, cmp.baseline),
        audience=scope.access.audience,
    )
    return cmp, scope.the_area, report


@require_GET
@requires(Perm.VIEW_AGGREGATES)
def sia(request: HttpRequest, partnership: str) -> HttpResponse:
    """The SIA period comparison for an area of the partnership (default: its first
    district), with significance and small-number markers and the generated findings."""
    cmp, area, report = _sia_report(request)
    context = {
        "form": cmp.form,
        "periods": cmp.fields(),
        "area": area,
        "sia": report,
        "show_places": _places_read(request, area, report),
    }
    return render(request, "hub/sia.html", context, status=400 if cmp.form.errors else 200)


@require_GET
@requires(Perm.EXPORT_AGGREGATES)
def export_sia(request: HttpRequest, partnership: str) -> HttpResponse:
    """The SIA table in the one export layout (``SiaReport.to_csv``, as `csp sia`)."""
    cmp, area, report = _sia_report(request)
    body = report.to_csv() + "\n"
    params = {**request.GET.dict(), "area": area.code}
    name = f"{partnership}-sia-{area.code}-{cmp.period[0]:%Y-%m}-{cmp.period[1]:%Y-%m}.csv"
    rows = len(report.table.rows)
    return csv_download(
        request, "sia", params, rows, body, name, point_level=False, target=("area", area.code)
    )


@require_GET
@requires(Perm.VIEW_FORECAST)
def forecast(request: HttpRequest, partnership: str) -> HttpResponse:
    """Next month's hotspots with their backtested accuracy beside them: if the accuracy
    cannot be measured, the forecast is not shown either. The method is the one that did
    best in the area's own backtest, for the theme asked for."""
    membership = request.membership  # type: ignore[attr-defined]
    form = ForecastForm(request.GET, selectors.filter_choices(membership))
    form.is_valid()
    code, through, cell = form.values()
    theme, months = form.theme(), form.test_months()
    access = scopes.access_for(membership)
    scope = scopes.scope_resolve(
        access,
        code or _first_district(access).code,
        period=(through, through),
        levels=("district", "ward"),
        themes=(theme,) if theme else (),
    )
    area = scope.the_area
    result = cached(
        ["forecast", cell, months, *scope.cache_key()],
        lambda: forecast_with_backtest(scope, through, cell, months),
        audience=scope.access.audience,
    )
    theme_name = next((t.name for t in form.choices.themes if t.code == theme), "")
    context = {
        "form": form,
        "area": area,
        "cell": cell,
        "cell_text": str(cell),
        "theme": theme,
        "theme_name": theme_name,
        "months_text": str(months),
        "through_month": through,
        "outline": selectors.area_geometry_json(area),
        **result,
        **_map_settings(),
    }
    return render(request, "hub/forecast.html", context)


def forecast_with_backtest(
    scope: Scope, through: date, cell: int, months: int = BACKTEST_MONTHS
) -> dict[str, Any]:
    """The forecast for the month after ``through`` by the method that did best in the
    backtest of the last ``months`` months with data up to it, for the scope's theme; only
    the pair, or neither (``withheld`` says why)."""
    try:
        choice = analysis.best_forecast_for_area(
            scope, through, cell, months=months, coverage=FORECAST_COVERAGE
        )
    except BadQuery as exc:
        return {"withheld": str(exc)}
    fc, test = choice.forecast, choice.backtest
    top = fc.top(FORECAST_COVERAGE)
    props = [
        {
            "rank": rank,
            "key": f"{fc.x_sw[i]:.0f},{fc.y_sw[i]:.0f}",
            "fill": geo.YLORRD_5[4 - min(4, 5 * (rank - 1) // len(top))],
            "label": f"Rank {rank} of {len(top)} cells",
        }
        for rank, i in enumerate(top, start=1)
    ]
    j = test.coverages.index(FORECAST_COVERAGE)
    m = test.methods.index(fc.method)
    return {
        "n_cells": int(fc.score.size),
        "method": fc.method,
        "choice": choice.sentence(),
        "best_naive": choice.best_naive,
        "target": month_date(fc.target),
        "through": month_date(fc.through),
        "geojson": geo.squares(fc.x_sw[top], fc.y_sw[top], fc.size_m, props),
        "test_rows": test.table(),
        "coverage": test.coverages[j],
        "hit_rate": float(test.mean_hit_rate()[m, j]),
        "pai": float(test.mean_pai()[m, j]),
        "scored_months": [f"{month_date(x):%b %Y}" for x in test.months],
        "skipped": len(test.skipped),
    }
