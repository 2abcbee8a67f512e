"""Reads of plans, access-checked: a plan or action of another partnership is 404."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from csp_platform.core.models import AuditAction, AuditEvent, Membership, Organisation
from csp_platform.plans.models import (
    Action,
    Objective,
    Plan,
    PlanTheme,
    Priority,
    QuarterlyUpdate,
    Rag,
    ScrutinyRecommendation,
)

ACTION_TARGET = "plans.action"


def plan_list_visible_to(membership: Membership) -> QuerySet[Plan]:
    """The plans of the member's partnership."""
    return Plan.objects.filter(partnership_id=membership.partnership_id).order_by(
        "-period_start", "title"
    )


def _uuid(value: str | uuid.UUID) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise Http404("No such record") from None


def plan_get_for(membership: Membership, plan_uuid: str | uuid.UUID) -> Plan:
    """A plan of the member's partnership, or 404."""
    try:
        return plan_list_visible_to(membership).get(uuid=_uuid(plan_uuid))
    except Plan.DoesNotExist:
        raise Http404("No such plan") from None


def _actions() -> QuerySet[Action]:
    return Action.objects.select_related(
        "plan", "objective__priority", "theme__priority"
    ).prefetch_related(
        "lead_organisations",
        "areas",
        "categories",
        "incident_themes",
        "indicators",
        Prefetch("updates", queryset=QuarterlyUpdate.objects.select_related("entered_by")),
    )


def action_get_for(membership: Membership, action_uuid: str | uuid.UUID) -> Action:
    """An action of a plan of the member's partnership, or 404 (outsiders learn nothing)."""
    try:
        return _actions().get(
            uuid=_uuid(action_uuid), plan__partnership_id=membership.partnership_id
        )
    except Action.DoesNotExist:
        raise Http404("No such action") from None


def action_history(action: Action) -> QuerySet[AuditEvent]:
    """The action's edit history: the audit log's collection and alteration events for it
    (and for its quarterly updates), newest first. There is no other history."""
    return AuditEvent.objects.filter(
        target_type=ACTION_TARGET,
        target_id=str(action.uuid),
        action__in=[AuditAction.COLLECTION, AuditAction.ALTERATION],
    ).order_by("-seq")


def latest_update(action: Action) -> QuarterlyUpdate | None:
    """The newest update with a status (prefetched updates are ordered newest first)."""
    for update in action.updates.all():
        if update.rag:
            return update
    return None


def current_rag(action: Action) -> str:
    update = latest_update(action)
    return update.rag if update else ""


@dataclass
class PlanFilters:
    priority: int | None = None
    organisation: int | None = None
    rag: str = ""  # a Rag value, or "none" for actions with no status yet
    overdue: bool = False
    today: date | None = None


@dataclass
class ObjectiveNode:
    objective: Objective | PlanTheme
    actions: list[Action] = field(default_factory=list)


@dataclass
class PriorityNode:
    priority: Priority | None
    objectives: list[ObjectiveNode] = field(default_factory=list)

    @property
    def action_count(self) -> int:
        return sum(len(o.actions) for o in self.objectives)


def is_overdue(action: Action, today: date) -> bool:
    """Due date passed and not complete (blue) or withdrawn."""
    if action.due_date is None or action.due_date >= today:
        return False
    if action.status in (Action.Status.COMPLETE, Action.Status.WITHDRAWN):
        return False
    return current_rag(action) != Rag.BLUE


def plan_tree(plan: Plan, filters: PlanFilters) -> list[PriorityNode]:
    """The plan as priority > objective (or theme) > action, with only the actions that
    pass the filters (a branch left empty by the filters is left out)."""
    today = filters.today or date.today()
    actions = _actions().filter(plan=plan).order_by("order", "id")
    if filters.organisation:
        actions = actions.filter(lead_organisations__id=filters.organisation)
    if filters.priority:
        actions = actions.filter(objective__priority_id=filters.priority) | actions.filter(
            theme__priority_id=filters.priority
        )
    chosen: list[Action] = []
    for action in actions.distinct():
        rag = current_rag(action)
        action.current_rag = rag  # type: ignore[attr-defined]
        action.is_overdue = is_overdue(action, today)  # type: ignore[attr-defined]
        if filters.rag == "none" and rag:
            continue
        if filters.rag and filters.rag != "none" and rag != filters.rag:
            continue
        if filters.overdue and not action.is_overdue:  # type: ignore[attr-defined]
            continue
        chosen.append(action)
    chosen.sort(key=lambda a: (a.order, a.pk))
    groups: dict[tuple[str, int], ObjectiveNode] = {}
    for action in chosen:
        parent: Objective | PlanTheme | None = action.objective or action.theme
        if parent is None:
            continue
        key = (type(parent).__name__, parent.pk)
        groups.setdefault(key, ObjectiveNode(parent)).actions.append(action)
    nodes: dict[int | None, PriorityNode] = {}
    for priority in plan.priorities.all().order_by("order", "number", "pk"):
        nodes[priority.pk] = PriorityNode(priority)
    unplaced = PriorityNode(None)
    for node in groups.values():
        pid = node.objective.priority_id
        (nodes.get(pid) if pid in nodes else unplaced).objectives.append(node)  # type: ignore[union-attr]
    tree = [n for n in nodes.values() if n.objectives]
    if unplaced.objectives:
        tree.append(unplaced)
    return tree


def plan_lead_organisations(plan: Plan) -> QuerySet[Organisation]:
    return Organisation.objects.filter(led_actions__plan=plan).distinct().order_by("name")


def recommendations_of(plan: Plan) -> QuerySet[ScrutinyRecommendation]:
    return plan.recommendations.all().order_by("order", "letter")
