"""The plan pages: the plan as a tree with filters, an action with its updates and edit
history, the forms to add and edit an action and to enter a quarterly update, and the
XLSX and DOCX downloads. Thin: parse -> selector/service -> render."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from csp_platform.core.errors import NotPermitted
from csp_platform.core.permissions import Perm, requires
from csp_platform.plans import exports, policy, selectors, services
from csp_platform.plans.forms import ActionForm, PlanFilterForm, QuarterlyUpdateForm
from csp_platform.plans.parsing import fiscal_quarter


def _m(request: HttpRequest) -> Any:
    return request.membership  # type: ignore[attr-defined]


@require_GET
@requires(Perm.VIEW_PLAN)
def plan_list(request: HttpRequest, partnership: str) -> HttpResponse:
    plans = selectors.plan_list_visible_to(_m(request))
    return render(request, "plans/plan_list.html", {"plans": plans})


@require_GET
@requires(Perm.VIEW_PLAN)
def plan_detail(request: HttpRequest, partnership: str, plan: uuid.UUID) -> HttpResponse:
    the_plan = selectors.plan_get_for(_m(request), plan)
    organisations = list(selectors.plan_lead_organisations(the_plan))
    form = PlanFilterForm(request.GET, the_plan, organisations)
    filters = selectors.PlanFilters(today=timezone.localdate())
    if form.is_valid():
        filters.priority = form.cleaned_data["priority"]
        filters.organisation = form.cleaned_data["organisation"]
        filters.rag = form.cleaned_data["rag"]
        filters.overdue = form.cleaned_data["overdue"]
    tree = selectors.plan_tree(the_plan, filters)
    context = {
        "plan": the_plan,
        "form": form,
        "tree": tree,
        "shown": sum(node.action_count for node in tree),
        "total": the_plan.actions.count(),
        "recommendations": selectors.recommendations_of(the_plan),
        "today": filters.today,
        "may_edit": policy.may_edit_plan(_m(request)),
    }
    return render(request, "plans/plan.html", context)


@require_GET
@requires(Perm.VIEW_PLAN)
def plan_export(request: HttpRequest, partnership: str, plan: uuid.UUID, fmt: str) -> HttpResponse:
    the_plan = selectors.plan_get_for(_m(request), plan)
    if fmt == "xlsx":
        body = exports.plan_xlsx(the_plan)
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "docx":
        body = exports.plan_docx(the_plan)
        kind = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    else:
        raise Http404("No such format")
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="plan-{the_plan.uuid}.{fmt}"'
    return response


@require_GET
@requires(Perm.VIEW_PLAN)
def action_detail(request: HttpRequest, partnership: str, action: uuid.UUID) -> HttpResponse:
    membership = _m(request)
    the_action = selectors.action_get_for(membership, action)
    context = {
        "action": the_action,
        "plan": the_action.plan,
        "rag": selectors.current_rag(the_action),
        "overdue": selectors.is_overdue(the_action, timezone.localdate()),
        "history": selectors.action_history(the_action),
        "may_edit": policy.may_edit_plan(membership),
        "may_update": policy.may_update_action(membership, the_action),
    }
    return render(request, "plans/action.html", context)


def _action_form_save(request: HttpRequest, form: ActionForm, action: Any | None, plan: Any) -> Any:
    data = dict(form.cleaned_data)
    objective, theme = form.chosen_parent()
    links: dict[str, Any] = {k: list(data.pop(k)) for k in services.ACTION_LINKS}
    data.pop("parent")
    data["lead_officer"] = services.clean(data["lead_officer"])
    data["text"] = services.clean(data["text"])
    if action is None:
        return services.action_create(
            plan=plan,
            by=request.user,
            membership=_m(request),
            objective=objective,
            theme=theme,
            **links,
            **data,
        )
    return services.action_update(
        action=action,
        by=request.user,
        membership=_m(request),
        objective=objective,
        theme=theme,
        **links,
        **data,
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.EDIT_PLAN)
def action_add(request: HttpRequest, partnership: str, plan: uuid.UUID) -> HttpResponse:
    the_plan = selectors.plan_get_for(_m(request), plan)
    form = ActionForm(request.POST or None, plan=the_plan)
    if request.method == "POST" and form.is_valid():
        try:
            created = _action_form_save(request, form, None, the_plan)
        except NotPermitted:
            raise PermissionDenied from None
        return redirect("plans:action", partnership, created.uuid)
    status = 400 if form.errors else 200
    context = {"form": form, "plan": the_plan, "action": None}
    return render(request, "plans/action_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.EDIT_PLAN)
def action_edit(request: HttpRequest, partnership: str, action: uuid.UUID) -> HttpResponse:
    the_action = selectors.action_get_for(_m(request), action)
    form = ActionForm(
        request.POST or None, plan=the_action.plan, initial=ActionForm.initial_for(the_action)
    )
    if request.method == "POST" and form.is_valid():
        try:
            _action_form_save(request, form, the_action, the_action.plan)
        except NotPermitted:
            raise PermissionDenied from None
        return redirect("plans:action", partnership, the_action.uuid)
    status = 400 if form.errors else 200
    context = {"form": form, "plan": the_action.plan, "action": the_action}
    return render(request, "plans/action_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.UPDATE_ACTION)
def action_update(request: HttpRequest, partnership: str, action: uuid.UUID) -> HttpResponse:
    membership = _m(request)
    the_action = selectors.action_get_for(membership, action)
    if not policy.may_update_action(membership, the_action):
        raise PermissionDenied
    year, quarter = fiscal_quarter(timezone.localdate())
    form = QuarterlyUpdateForm(
        request.POST or None, initial={"fiscal_year": year, "quarter": quarter}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.quarterly_update_add(
                action=the_action,
                by=request.user,
                membership=membership,
                fiscal_year=form.cleaned_data["fiscal_year"],
                quarter=form.cleaned_data["quarter"],
                commentary=services.clean(form.cleaned_data["commentary"]),
                rag=form.cleaned_data["rag"],
            )
        except NotPermitted:
            raise PermissionDenied from None
        return redirect("plans:action", partnership, the_action.uuid)
    status = 400 if form.errors else 200
    context = {"form": form, "action": the_action, "plan": the_action.plan}
    return render(request, "plans/update_form.html", context, status=status)
