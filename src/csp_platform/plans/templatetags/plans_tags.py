"""The status tag: a RAG status always with its word and a symbol, never colour alone."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from csp_platform.plans.exports import RAG_SYMBOL
from csp_platform.plans.models import Rag

register = template.Library()

_TAG_CLASS = {
    Rag.RED: "govuk-tag--red",
    Rag.AMBER: "govuk-tag--orange",
    Rag.GREEN: "govuk-tag--green",
    Rag.BLUE: "govuk-tag--blue",
    Rag.NOT_STARTED: "govuk-tag--grey",
}


@register.simple_tag
def rag_tag(rag: str) -> str:
    """``<strong class="govuk-tag ...">✓ Green: on track</strong>``, or "No status yet"."""
    if not rag:
        return format_html(
            '<strong class="govuk-tag govuk-tag--grey csp-rag">{}</strong>', "No status yet"
        )
    value = Rag(rag)
    return format_html(
        '<strong class="govuk-tag {} csp-rag csp-rag--{}" data-rag="{}">'
        '<span aria-hidden="true">{}</span> {}</strong>',
        _TAG_CLASS[value],
        value.value,
        value.value,
        RAG_SYMBOL[value],
        value.label,
    )


@register.filter
def field_value(value: object) -> str:
    """A value of the edit history as words."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
