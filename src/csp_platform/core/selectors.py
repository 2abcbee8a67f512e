"""Reads of memberships, the audit log and sharing agreements; access is part of fetching.

``membership_get_for`` is the gate for every partnership page: a user who is not a member
gets 404, so a partnership's existence is not confirmed to outsiders. Areas are scoped in
the read path's one scope (:mod:`csp_platform.incidents.scope`): a ward, district or custom
area outside the partnership's districts is a 404 there (which also declares the audit
owner of an area).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from csp_platform.core import audit, permissions, policy
from csp_platform.core.models import (
    AuditAction,
    AuditEvent,
    Membership,
    Panel,
    SharingAgreement,
)

User = AbstractBaseUser | AnonymousUser
LONDON = ZoneInfo("Europe/London")
SCOPE_LEVELS = ("district", "ward", "custom")


def membership_list_for(user: User) -> QuerySet[Membership]:
    if not user.is_authenticated or not user.is_active:
        return Membership.objects.none()
    return Membership.objects.filter(user_id=user.pk).select_related("partnership", "organisation")


def membership_get_for(user: User, partnership_slug: str) -> Membership:
    """The user's membership of the partnership, or 404 (outsiders learn nothing)."""
    return get_object_or_404(membership_list_for(user), partnership__slug=partnership_slug)


def data_owner(membership: Membership) -> bool:
    """The partnership's figures are owned by whoever manages its data (VIEW_DATA)."""
    return permissions.role_allows(membership.role, permissions.Perm.VIEW_DATA)


# ----------------------------------------------------------------------------------------
# The audit log and information-sharing agreements, scoped to the membership's partnership


def audit_events_visible_to(membership: Membership) -> QuerySet[AuditEvent]:
    """Every audited event of the membership's partnership, for roles with VIEW_AUDIT."""
    if not policy.membership_allows(membership, policy.AUDIT_EVENT, "view"):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(partnership_id=membership.partnership_id)


@dataclass(frozen=True)
class AuditQuery:
    """An audit search: by user, action, date range (Europe/London dates) and target."""

    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    target_type: str = ""
    target_id: str = ""


def _london_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LONDON)


def audit_search(membership: Membership, query: AuditQuery) -> QuerySet[AuditEvent]:
    qs = audit_events_visible_to(membership)
    if query.actor:
        qs = qs.filter(actor__iexact=query.actor)
    if query.action:
        qs = qs.filter(action=query.action)
    if query.since:
        qs = qs.filter(at__gte=_london_midnight(query.since))
    if query.until:
        qs = qs.filter(at__lt=_london_midnight(query.until + timedelta(days=1)))
    if query.target_type:
        qs = qs.filter(target_type=query.target_type)
    if query.target_id:
        qs = qs.filter(target_id=query.target_id)
    return qs.order_by("-seq")


def audit_seen_for(
    membership: Membership, target_type: str, target_id: str
) -> QuerySet[AuditEvent]:
    """ "Who has seen this record": its consultations and disclosures in the partnership.

    For the record's owners (``audit.owner`` declares them per target type) and auditors;
    any other member gets 403 (PermissionDenied). A target outside the partnership is a 404
    (the owner check of areas and partnerships raises it)."""
    auditor = policy.membership_allows(membership, policy.AUDIT_EVENT, "view")
    owns = audit.is_owner(membership, target_type, target_id)
    if not (owns or auditor):
        raise PermissionDenied
    seen = (AuditAction.CONSULTATION, AuditAction.DISCLOSURE)
    return AuditEvent.objects.filter(
        partnership_id=membership.partnership_id,
        target_type=target_type,
        target_id=target_id,
        action__in=seen,
    ).order_by("-seq")


@audit.owner("partnership")
def _partnership_owner(membership: Membership, slug: str) -> bool:
    if slug != membership.partnership.slug:
        raise Http404("no such record in this partnership")
    return data_owner(membership)


@audit.owner("core.sharingagreement")
def _agreement_owner(membership: Membership, pk: str) -> bool:
    agreement = get_object_or_404(
        agreements_visible_to(membership), pk=int(pk) if pk.isdigit() else 0
    )
    return agreement.parties.filter(pk=membership.organisation_id).exists()


def agreements_visible_to(membership: Membership) -> QuerySet[SharingAgreement]:
    return SharingAgreement.objects.filter(partnership_id=membership.partnership_id)


def agreements_due_for_review(
    membership: Membership, *, on: date, within_days: int = 30
) -> QuerySet[SharingAgreement]:
    """Live agreements (draft, active, suspended) whose review date is past or within
    ``within_days`` of ``on``."""
    return agreements_visible_to(membership).filter(
        review__lte=on + timedelta(days=within_days),
        status__in=[
            SharingAgreement.Status.DRAFT,
            SharingAgreement.Status.ACTIVE,
            SharingAgreement.Status.SUSPENDED,
        ],
    )


# ----------------------------------------------------------------------------------------
# Panels and grants (core/policy.py decides; the filter is in the query)


def panel_list_visible_to(user: User) -> QuerySet[Panel]:
    """The panels the user may see: those of partnerships where their role may (the policy's
    ``panel`` resource), and those they sit on."""
    qs = Panel.objects.select_related("partnership")
    if not user.is_authenticated:
        return qs.none()
    mine = Panel.objects.filter(members=user.pk).values("pk")
    return (policy.visible(user, policy.PANEL, qs) | qs.filter(pk__in=mine)).distinct()


def panel_get_for(user: User, public_id: str, *, action: str = "view") -> Panel:
    """One panel by its UUID: 404 for an outsider, 403 for an insider without the right."""
    if action == "view" and user.is_authenticated:
        sits = Panel.objects.filter(uuid=policy.uuid_or_404(public_id), members=user.pk).first()
        if sits is not None:
            return sits
    return policy.get_for(user, policy.PANEL, Panel.objects.all(), public_id, action)
