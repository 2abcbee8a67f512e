"""Writes of the performance management framework: indicators and partners' monthly returns.

Every write records who did it, what changed, from what to what, in the audit log, in the same
transaction as the change (core.audit): a return entered is a *collection*, a return corrected
an *alteration* with the value before and after.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from csp_platform.core import audit
from csp_platform.core.errors import DomainError, NotPermitted
from csp_platform.core.models import AuditAction, Membership, Organisation, Partnership
from csp_platform.plans.models import Action, ActionIndicator, Indicator, IndicatorValue
from csp_platform.plans.policy import may_enter_return


class ReturnRefused(DomainError):
    """A return that cannot be entered (not a manual indicator, a month in the future...)."""


def _value(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise ReturnRefused(f"value: {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ReturnRefused(f"value: {raw!r} must be a number of 0 or more")
    return value


def _show(value: Decimal) -> str:
    """A value as the audit log keeps it: "4", "2.5" (no trailing zeros)."""
    return format(Decimal(value).normalize(), "f")


@transaction.atomic
def indicator_return_enter(
    *,
    indicator: Indicator,
    month: date,
    value: Any,
    by: Any,
    membership: Membership | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> IndicatorValue:
    """Enter (or correct) a month's return of a manual indicator, audited.

    With a ``membership`` (the web page), the policy is checked: only the indicator's owner
    organisation's members and the partnership's managers may enter it (NotPermitted)."""
    if membership is not None and not may_enter_return(membership, indicator):
        raise NotPermitted("Only the indicator's owner organisation or a manager may enter it")
    if indicator.source != "manual":
        raise ReturnRefused(
            f"{indicator.name} is computed from {indicator.source}; it takes no manual returns"
        )
    month = month.replace(day=1)
    if month > timezone.localdate().replace(day=1):
        raise ReturnRefused(f"month: {month:%Y-%m} is in the future")
    amount = _value(value)
    existing = IndicatorValue.objects.select_for_update().filter(indicator=indicator, month=month)
    row = existing.first()
    before = None if row is None else {"value": _show(row.value), "note": row.note}
    now = timezone.now()
    if row is None:
        row = IndicatorValue.objects.create(
            indicator=indicator, month=month, value=amount, note=note, entered_by=by,
            entered_at=now,
        )  # fmt: skip
    else:
        row.value, row.note, row.entered_by, row.entered_at = amount, note, by, now
        row.save(update_fields=["value", "note", "entered_by", "entered_at"])
    audit.record(
        action=AuditAction.COLLECTION if before is None else AuditAction.ALTERATION,
        actor=by,
        membership=membership,
        request=request,
        target=indicator,
        before=before,
        after={"value": _show(amount), "note": note},
        detail={"month": f"{month:%Y-%m}", "indicator": indicator.name},
        purpose="performance management framework: monthly return",
    )
    return row


@transaction.atomic
def indicator_create(
    *,
    partnership: Partnership,
    name: str,
    source: str,
    by: Any,
    owner: Organisation | None = None,
    spec: dict[str, Any] | None = None,
    **fields: Any,
) -> Indicator:
    """Create an indicator (idempotent by name within the partnership), audited."""
    found = Indicator.objects.filter(partnership=partnership, name=name).first()
    if found is not None:
        return found
    kind = Indicator.Kind.MANUAL if source == "manual" else Indicator.Kind.COMPUTED
    indicator = Indicator.objects.create(
        partnership=partnership, name=name, source=source, kind=kind, owner=owner,
        spec=spec or {}, **fields,
    )  # fmt: skip
    audit.record(
        action=AuditAction.COLLECTION,
        actor=by,
        target=indicator,
        after={"name": name, "source": source, "spec": spec or {}, **{
            k: str(v) for k, v in fields.items()
        }},
        purpose="performance management framework: indicator defined",
    )  # fmt: skip
    return indicator


# The enforcement outputs of Middlesbrough's performance management framework (seed 000:
# "warnings, FPN's, PSPO breaches, fly-tipping prosecutions, CBO's, Injunctions, use of
# CCTV"; "Introduce the use of CPN's ... warning template, the full notice and ... the fixed
# penalty notice"), entered monthly by the council.
ENFORCEMENT_RETURNS = (
    ("Community protection notice warnings issued", "higher"),
    ("Community protection notices issued", "higher"),
    ("Fixed penalty notices issued", "higher"),
    ("Fixed penalty notices paid", "higher"),
    ("PSPO breaches", "lower"),
    ("Fly-tipping prosecutions", "higher"),
    ("Criminal behaviour orders", "higher"),
    ("Civil injunctions", "higher"),
    ("CCTV uses (footage provided as evidence)", "higher"),
)


@transaction.atomic
def indicator_link(*, indicator: Indicator, action: Action, by: Any) -> bool:
    """Link an indicator to an action it measures (idempotent), audited on the action so
    that the link shows in the action's edit history. True when a link was made."""
    if action.plan.partnership_id != indicator.partnership_id:
        raise ReturnRefused("an indicator measures actions of its own partnership only")
    before = "; ".join(sorted(action.indicators.values_list("name", flat=True)))
    _, made = ActionIndicator.objects.get_or_create(action=action, indicator=indicator)
    if made:
        after = "; ".join(sorted(action.indicators.values_list("name", flat=True)))
        audit.record(
            action=AuditAction.ALTERATION,
            actor=by,
            target=("plans.action", str(action.uuid)),
            before={"indicators": before},
            after={"indicators": after},
            purpose="performance management framework: indicator linked to an action",
        )
    return made


# Seed 000's actions that the demo indicators measure (matched by their words).
DEMO_LINKS = {
    "performance management framework to include warnings": "enforcement",
    "Monthly reporting of crime stats via performance management framework": "computed",
}


def _demo_links(partnership: Partnership, made: list[Indicator]) -> None:
    for words, kind in DEMO_LINKS.items():
        action = Action.objects.filter(plan__partnership=partnership, text__icontains=words).first()
        if action is None:
            continue
        for indicator in made:
            if (indicator.source == "manual") == (kind == "enforcement"):
                indicator_link(indicator=indicator, action=action, by="csp load-demo")


def demo_indicators_load(slug: str = "middlesbrough") -> list[Indicator]:
    """Middlesbrough's demo indicators: two computed from the incident store (ASB in the
    district, criminal damage and arson per 1,000 residents, each compared with the rest of
    Cleveland) and the enforcement returns, owned by the council. No returns are invented:
    the council enters them. They are linked to the plan's actions that call for them
    (seed 000's performance management framework actions), if the plan is loaded. Idempotent."""
    partnership = Partnership.objects.get(slug=slug)
    council = Organisation.objects.filter(slug=f"{slug}-council").first()
    police = Organisation.objects.filter(slug="cleveland-police").first()
    district = partnership.districts.order_by("code").first()
    made = []
    if district is not None:
        where = {"code": district.code, "generation": district.generation}
        made.append(indicator_create(
            partnership=partnership, name=f"Anti-social behaviour in {district.name}",
            source="incidents", by="csp load-demo", owner=police,
            spec={"area": where, "categories": ["anti-social-behaviour"], "measure": "count"},
            description="Police-recorded ASB incidents a month (police.uk), as csp counts.",
            unit="incidents", target=Decimal(900), tolerance=Decimal(100),
            direction=Indicator.Direction.LOWER,
        ))  # fmt: skip
        made.append(indicator_create(
            partnership=partnership,
            name=f"Criminal damage and arson per 1,000 residents in {district.name}",
            source="incidents", by="csp load-demo", owner=police,
            spec={"area": where, "categories": ["criminal-damage-and-arson"],
                  "measure": "rate_per_1000"},
            description="Police-recorded criminal damage and arson a month per 1,000 residents.",
            unit="per 1,000 residents", target=Decimal("1.5"), tolerance=Decimal("0.2"),
            direction=Indicator.Direction.LOWER,
        ))  # fmt: skip
    for name, direction in ENFORCEMENT_RETURNS:
        made.append(indicator_create(
            partnership=partnership, name=name, source="manual", by="csp load-demo",
            owner=council, direction=direction, unit="a month",
            description="Monthly return entered by the council's Neighbourhood Safety Service.",
        ))  # fmt: skip
    _demo_links(partnership, made)
    return made
