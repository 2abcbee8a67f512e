"""Tags for the plan and action pages (P-A's templates include ``plans/_indicators.html`` and
``plans/_evaluation.html``): an action's indicators against target and its outcome verdict."""

from __future__ import annotations

from typing import Any

from django import template

from csp_platform.analysis.evaluation import action_missing, evaluation_for_action
from csp_platform.plans.board import rag_words
from csp_platform.plans.indicators import indicator_report

register = template.Library()

TAG = {"green": "govuk-tag--green", "amber": "govuk-tag--yellow", "red": "govuk-tag--red"}
OUTCOME_TAG = {
    "fell": "govuk-tag--green",
    "rose": "govuk-tag--red",
    "no clear change": "govuk-tag--grey",
    "mixed": "govuk-tag--yellow",
}


@register.filter
def target_tag(code: str) -> str:
    """The GOV.UK tag class for a status against target (the word and symbol go with it)."""
    return TAG.get(code, "govuk-tag--grey")


@register.filter
def outcome_tag(outcome: str) -> str:
    return OUTCOME_TAG.get(outcome, "govuk-tag--grey")


@register.filter
def delivery_rag(code: str) -> str:
    return rag_words(code or "")


@register.filter
def number(value: Any) -> str:
    if value is None:
        return "No data"
    v = float(value)
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


@register.simple_tag
def action_indicator_reports(action: Any) -> list[Any]:
    """The action's indicators with their latest value against target."""
    return [indicator_report(i) for i in action.indicators.all().select_related("owner")]


@register.simple_tag
def action_evaluation(action: Any) -> Any:
    """The action's outcome evaluation (or what it lacks for one)."""
    return evaluation_for_action(action)


@register.filter
def action_rag(action: Any) -> str:
    """The action's latest delivery status code ("" before any update)."""
    from csp_platform.plans.selectors import current_rag

    return current_rag(action)


@register.filter
def evaluable(action: Any) -> bool:
    """Has the action an area, categories or themes and a start date (an outcome to show)?"""
    return not action_missing(action)
