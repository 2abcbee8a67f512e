"""The partnership's SMART summary page (docs/analytics/smart-check.md). Thin: the
membership's partnership -> plans/smart.py -> render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from csp_platform.core.permissions import Perm, requires
from csp_platform.plans.smart import smart_report


@require_GET
@requires(Perm.VIEW_PLAN)
def smart_summary(request: HttpRequest, partnership: str) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    report = smart_report(membership.partnership)
    return render(request, "plans/smart_summary.html", {"report": report})
