"""The SMART check applied to a partnership's plans (docs/analytics/smart-check.md).

The rules are in ``csp_analytics.smart`` (pure, no Django); this module reads an action or a
scrutiny recommendation into the texts the rules read, and gathers the partnership summary.
Reads only: nothing here writes, so nothing is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from csp_analytics.smart import CRITERIA, ActionTexts, Gap, check
from csp_platform.core.models import Organisation, Partnership
from csp_platform.plans.models import Action, Plan, ScrutinyRecommendation


def _priority_title(action: Action) -> str:
    parent = action.objective or action.theme
    priority = parent.priority if parent is not None else None
    return priority.title if priority is not None else ""


def action_texts(action: Action) -> ActionTexts:
    """What the SMART rules read of an action (its words and its links)."""
    return ActionTexts(
        text=action.text,
        timescale=action.timescale,
        due_date=action.due_date,
        lead_organisations=tuple(o.name for o in action.lead_organisations.all()),
        lead_officer=action.lead_officer,
        lead_text=action.lead_text,
        priority=_priority_title(action),
        indicators=tuple(i.name for i in action.indicators.all()),
    )


def recommendation_texts(rec: ScrutinyRecommendation) -> ActionTexts:
    """A scrutiny recommendation read as an action: its proposed action, post title and
    timescale. The table names no lead organisation and no plan priority, so those gaps show."""
    return ActionTexts(
        text=rec.proposed_action or rec.recommendation,
        timescale=rec.timescale,
        due_date=rec.due_date,
        lead_officer=rec.post_title,
        lead_text=rec.post_title,
    )


def action_gaps(action: Action) -> list[Gap]:
    return check(action_texts(action))


@dataclass
class SmartRow:
    """One checked item of a plan: an action, or a scrutiny recommendation's proposed action."""

    plan: Plan
    kind: str  # "action" or "recommendation"
    label: str  # "Action 12" or "Recommendation c)"
    text: str
    uuid: str
    gaps: list[Gap]
    source_line: int | None = None

    @property
    def lacks(self) -> list[str]:
        return [g.criterion for g in self.gaps]

    @property
    def is_smart(self) -> bool:
        return not self.gaps


@dataclass
class SmartReport:
    """The partnership summary: every checked item, and for each criterion the items that
    lack it."""

    partnership: Partnership
    rows: list[SmartRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {c: len(self.lacking(c)) for c in CRITERIA}

    def lacking(self, criterion: str) -> list[tuple[SmartRow, Gap]]:
        return [(r, g) for r in self.rows for g in r.gaps if g.criterion == criterion]

    @property
    def smart_count(self) -> int:
        return sum(1 for r in self.rows if r.is_smart)

    @property
    def by_criterion(self) -> list[tuple[str, list[tuple[SmartRow, Gap]]]]:
        return [(c, self.lacking(c)) for c in CRITERIA]


def _checked_actions(plans: QuerySet[Plan]) -> QuerySet[Action]:
    return (
        Action.objects.filter(plan__in=plans)
        .select_related("plan", "objective__priority", "theme__priority")
        .prefetch_related(
            Prefetch("lead_organisations", queryset=Organisation.objects.order_by("name")),
            "indicators",
        )
        .order_by("plan__title", "order", "id")
    )


def smart_report(partnership: Partnership) -> SmartReport:
    """The SMART check of every action and scrutiny recommendation of the partnership's
    plans (closed plans left out)."""
    plans = Plan.objects.filter(partnership=partnership).exclude(status=Plan.Status.CLOSED)
    report = SmartReport(partnership)
    for action in _checked_actions(plans):
        report.rows.append(
            SmartRow(
                plan=action.plan,
                kind="action",
                label=f"Action {action.order}",
                text=action.text,
                uuid=str(action.uuid),
                gaps=action_gaps(action),
                source_line=action.source_line,
            )
        )
    recs = (
        ScrutinyRecommendation.objects.filter(plan__in=plans)
        .select_related("plan")
        .order_by("plan__title", "order", "letter")
    )
    for rec in recs:
        assert rec.plan is not None
        report.rows.append(
            SmartRow(
                plan=rec.plan,
                kind="recommendation",
                label=f"Recommendation {rec.letter})" if rec.letter else "Recommendation",
                text=rec.proposed_action or rec.recommendation,
                uuid=str(rec.uuid),
                gaps=check(recommendation_texts(rec)),
                source_line=rec.source_line,
            )
        )
    return report
