"""Overdue and at-risk actions (docs/plans-at-risk.md): the rules, on the plan page and in
the weekly digest to each lead.

An open action (not complete, not withdrawn, latest status not blue) is flagged when

- **overdue**: its due date has passed (``selectors.is_overdue``);
- **no update this quarter**: no quarterly update belongs to the current financial quarter
  (April-June is Q1). An update belongs to the quarter it names, or, when it names none (an
  imported comment), to the quarter of the day it was entered, in Europe/London;
- **red or amber two quarters running**: the latest status of each of two consecutive
  quarters (the newest quarter with a status and the one before it) is red or amber.

"Today" is the Europe/London date (``timezone.localdate``): at 00:30 on 1 July in London a
new quarter has begun although it is still 30 June in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from csp_platform.plans.models import Action, Plan, QuarterlyUpdate, Rag
from csp_platform.plans.parsing import fiscal_quarter, quarter_label
from csp_platform.plans.selectors import current_rag, is_overdue

OVERDUE = "overdue"
NO_UPDATE = "no_update"
RED_AMBER = "red_amber"
_WARNING = (Rag.RED, Rag.AMBER)


@dataclass(frozen=True)
class Risk:
    kind: str  # OVERDUE, NO_UPDATE or RED_AMBER
    reason: str


@dataclass
class AtRisk:
    action: Action
    risks: list[Risk]

    @property
    def kinds(self) -> list[str]:
        return [r.kind for r in self.risks]


def update_quarter(update: QuarterlyUpdate) -> tuple[int, int]:
    """(financial year, quarter) an update belongs to."""
    if update.fiscal_year and update.quarter:
        return update.fiscal_year, update.quarter
    return fiscal_quarter(timezone.localdate(update.entered_at))


def _previous(q: tuple[int, int]) -> tuple[int, int]:
    year, quarter = q
    return (year, quarter - 1) if quarter > 1 else (year - 1, 4)


def is_open(action: Action) -> bool:
    if action.status in (Action.Status.COMPLETE, Action.Status.WITHDRAWN):
        return False
    return current_rag(action) != Rag.BLUE


def risks_of(action: Action, today: date) -> list[Risk]:
    """Why the action is overdue or at risk on ``today`` (empty: neither). Reads the action's
    updates (prefetch them: ``action.updates.all()``)."""
    if not is_open(action):
        return []
    found: list[Risk] = []
    if is_overdue(action, today):
        assert action.due_date is not None
        days = (today - action.due_date).days
        found.append(
            Risk(
                OVERDUE,
                f"Due {action.due_date.day} {action.due_date:%B %Y}"
                f" ({action.timescale or 'due date'}), {days} day{'s' if days != 1 else ''}"
                " ago, and not complete.",
            )
        )
    this_quarter = fiscal_quarter(today)
    updates = list(action.updates.all())
    if not any(update_quarter(u) == this_quarter for u in updates):
        last = max((update_quarter(u) for u in updates), default=None)
        since = f"; the last was for {quarter_label(*last)}" if last else "; it has never had one"
        found.append(
            Risk(NO_UPDATE, f"No update for this quarter ({quarter_label(*this_quarter)}){since}.")
        )
    latest: dict[tuple[int, int], QuarterlyUpdate] = {}
    for u in sorted(updates, key=lambda u: (u.entered_at, u.pk)):
        q = update_quarter(u)
        if u.rag and q <= this_quarter:
            latest[q] = u
    if latest:
        newest = max(latest)
        before = latest.get(_previous(newest))
        if before is not None and latest[newest].rag in _WARNING and before.rag in _WARNING:
            found.append(
                Risk(
                    RED_AMBER,
                    f"{Rag(before.rag).label.split(':')[0]} in {quarter_label(*_previous(newest))}"
                    f" and {Rag(latest[newest].rag).label.split(':')[0]} in"
                    f" {quarter_label(*newest)}: off track or at risk two quarters running.",
                )
            )
    return found


def _actions(plans: QuerySet[Plan]) -> QuerySet[Action]:
    return (
        Action.objects.filter(plan__in=plans)
        .select_related("plan")
        .prefetch_related(
            "lead_organisations",
            Prefetch("updates", queryset=QuarterlyUpdate.objects.all()),
        )
        .order_by("plan__title", "order", "id")
    )


def at_risk_in(plans: QuerySet[Plan], today: date | None = None) -> list[AtRisk]:
    """Every overdue or at-risk action of ``plans``, with its reasons."""
    today = today or timezone.localdate()
    found = []
    for action in _actions(plans):
        risks = risks_of(action, today)
        if risks:
            found.append(AtRisk(action, risks))
    return found


def plan_at_risk(plan: Plan, today: date | None = None) -> list[AtRisk]:
    return at_risk_in(Plan.objects.filter(pk=plan.pk), today)
