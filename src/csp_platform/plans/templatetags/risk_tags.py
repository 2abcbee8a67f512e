"""The plan page's "Overdue and at risk" section (plans/_at_risk.html)."""

from __future__ import annotations

from datetime import date

from django import template

from csp_platform.plans.models import Plan
from csp_platform.plans.risk import AtRisk, plan_at_risk

register = template.Library()


@register.simple_tag
def at_risk_of(plan: Plan, today: date | None = None) -> list[AtRisk]:
    """The plan's overdue and at-risk actions on ``today`` (plans/risk.py)."""
    return plan_at_risk(plan, today)
