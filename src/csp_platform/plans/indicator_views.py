"""Indicator pages, the monthly return form and the board report (HTML and DOCX)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from csp_platform.core.errors import NotPermitted
from csp_platform.core.permissions import Perm, requires
from csp_platform.plans import board as boards
from csp_platform.plans import indicator_services as services
from csp_platform.plans import indicators, policy, selectors
from csp_platform.plans.indicator_forms import ReturnForm
from csp_platform.plans.models import Plan


def _context(
    request: HttpRequest, indicator: Any, form: ReturnForm | None = None
) -> dict[str, Any]:
    m = request.membership  # type: ignore[attr-defined]
    return {
        "report": indicators.indicator_report(indicator),
        "returns": indicators.entered_returns(indicator)[:24],
        "may_enter": indicator.source == "manual" and policy.may_enter_return(m, indicator),
        "form": form or ReturnForm(),
        "here": "indicators",
    }


@require_GET
@requires(Perm.VIEW_PLAN)
def indicator_list(request: HttpRequest, partnership: str) -> HttpResponse:
    found = indicators.indicator_list_visible_to(request.membership)  # type: ignore[attr-defined]
    reports = [indicators.indicator_report(i) for i in found]
    return render(request, "plans/indicators/list.html", {"reports": reports, "here": "indicators"})


@require_GET
@requires(Perm.VIEW_PLAN)
def indicator_detail(request: HttpRequest, partnership: str, indicator: Any) -> HttpResponse:
    found = indicators.indicator_get_for(request.membership, indicator)  # type: ignore[attr-defined]
    return render(request, "plans/indicators/detail.html", _context(request, found))


@require_POST
@requires(Perm.ENTER_RETURN)
def indicator_return(request: HttpRequest, partnership: str, indicator: Any) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    found = indicators.indicator_get_for(membership, indicator)
    if not policy.may_enter_return(membership, found):
        raise PermissionDenied
    form = ReturnForm(request.POST)
    if form.is_valid():
        try:
            services.indicator_return_enter(
                indicator=found, month=form.cleaned_data["month"], value=form.cleaned_data["value"],
                note=form.cleaned_data["note"], by=request.user, membership=membership,
                request=request,
            )  # fmt: skip
            return redirect("indicators:detail", partnership, found.uuid)
        except (services.ReturnRefused, NotPermitted) as e:
            form.add_error(None, str(e))
    return render(
        request, "plans/indicators/detail.html", _context(request, found, form), status=400
    )


def _plan(request: HttpRequest) -> Plan:
    membership = request.membership  # type: ignore[attr-defined]
    if request.GET.get("plan"):
        return selectors.plan_get_for(membership, request.GET["plan"])
    plan = selectors.plan_list_visible_to(membership).filter(kind=Plan.Kind.DELIVERY).first()
    if plan is None:
        raise Http404("This partnership has no delivery plan yet")
    return plan


@require_GET
@requires(Perm.VIEW_PLAN)
def board(request: HttpRequest, partnership: str) -> HttpResponse:
    report = boards.board_report(request.membership, _plan(request), date.today())  # type: ignore[attr-defined]
    return render(request, "plans/board.html", {"report": report, "here": "board"})


@require_GET
@requires(Perm.VIEW_PLAN)
def board_docx(request: HttpRequest, partnership: str) -> HttpResponse:
    report = boards.board_report(request.membership, _plan(request), date.today())  # type: ignore[attr-defined]
    response = HttpResponse(
        boards.board_docx(report),
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    response["Content-Disposition"] = f'attachment; filename="board-report-{partnership}.docx"'
    return response
