"""The audit pages: the audit search (auditors), "who has seen this record" (the record's
owners and auditors) and the information-sharing agreements due for review (managers).

Each page is partnership-scoped and reads through the access-checked selectors in
``core/selectors.py``; every look at the audit log is itself audited (a consultation).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from csp_platform.core import audit, selectors
from csp_platform.core.audit_forms import AuditSearchForm
from csp_platform.core.permissions import Perm, requires

PAGE_SIZE = 50


@require_GET
@requires(Perm.VIEW_AUDIT)
def audit_search(request: HttpRequest, partnership: str) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    form = AuditSearchForm(request.GET or None)
    query = form.query()
    events = Paginator(selectors.audit_search(membership, query), PAGE_SIZE)
    page = events.get_page(request.GET.get("page"))
    audit.record(
        action=audit.Action.CONSULTATION,
        request=request,
        target=("audit", partnership),
        detail={"search": {k: v for k, v in request.GET.items() if k != "page"}},
    )
    status = 400 if form.errors else 200
    context = {"form": form, "page": page, "count": events.count, "query": _query(request)}
    return render(request, "core/audit/search.html", context, status=status)


def _query(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@require_GET
@requires(Perm.VIEW_ACCESS_LOG)
def audit_seen(
    request: HttpRequest, partnership: str, target_type: str, target_id: str
) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    events = selectors.audit_seen_for(membership, target_type, target_id)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "target_type": target_type, "target_id": target_id}
    return render(request, "core/audit/seen.html", context)


@require_GET
@requires(Perm.VIEW_AGREEMENTS)
def agreements(request: HttpRequest, partnership: str) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    today = timezone.localdate()
    context = {
        "today": today,
        "due": selectors.agreements_due_for_review(membership, on=today),
        "agreements": selectors.agreements_visible_to(membership).prefetch_related("parties"),
    }
    return render(request, "core/audit/agreements.html", context)
