"""The SMART badges of an action (plans/_smart.html): each criterion with its word and a
symbol, never colour alone, and the reasons for what it lacks."""

from __future__ import annotations

from dataclasses import dataclass

from django import template

from csp_analytics.smart import CRITERIA, Gap
from csp_platform.plans.models import Action
from csp_platform.plans.smart import action_gaps

register = template.Library()


@dataclass(frozen=True)
class Criterion:
    name: str
    gap: Gap | None

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def met(self) -> bool:
        return self.gap is None


@register.simple_tag
def smart_check(action: Action) -> list[Criterion]:
    """Each SMART criterion of the action, with its gap when it lacks it."""
    gaps = {g.criterion: g for g in action_gaps(action)}
    return [Criterion(c, gaps.get(c)) for c in CRITERIA]
