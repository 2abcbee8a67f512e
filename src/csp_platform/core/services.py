"""Writes for organisations, partnerships, memberships, exports (audited disclosures),
information-sharing agreements and second factors, and the demo set-up. (Sign-in limits are
django-axes', configured in core/sign_in.py.)"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from csp_platform.core import audit, policy
from csp_platform.core.errors import ImportRejected, NotPermitted
from csp_platform.core.models import (
    AuditAction,
    AuditEvent,
    DataClass,
    Grant,
    LegalBasis,
    Membership,
    Organisation,
    Panel,
    Partnership,
    ProcessingCondition,
    Role,
    SharingAgreement,
)

# ----------------------------------------------------------------------------------------
# Memberships


@transaction.atomic
def membership_set(
    *, user: AbstractBaseUser, partnership: Partnership, organisation: Organisation, role: Role
) -> Membership:
    """Put a user in a partnership with a role (replacing any role they had there)."""
    membership, _ = Membership.objects.update_or_create(
        user_id=user.pk,
        partnership=partnership,
        defaults={"organisation": organisation, "role": role},
    )
    return membership


# ----------------------------------------------------------------------------------------
# Exports: every one recorded


def export_record(
    *,
    request: HttpRequest,
    kind: str,
    parameters: dict[str, Any],
    rows: int,
    point_level: bool,
    target: tuple[str, str],
    purpose: str = "",
) -> AuditEvent:
    """Record an export as an audit *disclosure* to the exporting user and organisation;
    call it in the view that hands the file over, before returning it. ``request`` carries
    the membership (who, organisation, role, partnership), the route and the address."""
    membership: Membership = request.membership  # type: ignore[attr-defined]
    recipient = f"{membership.user.get_username()} ({membership.organisation.name})"
    return audit.record(
        action=AuditAction.DISCLOSURE,
        request=request,
        target=target,
        recipient=recipient,
        purpose=purpose,
        detail={
            "kind": kind,
            "parameters": parameters,
            "rows": rows,
            "point_level": point_level,
        },
    )


def user_sessions_end(user: AbstractBaseUser) -> int:
    """End every live session of a user (admin action; ASVS 7.4.5). Returns how many."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()):
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
            ended += 1
    return ended


# ----------------------------------------------------------------------------------------
# Information-sharing agreements: written here (each change audited), checked by isa_check

ISA_FIELDS = (
    "title", "purposes", "data_classes", "legal_bases", "conditions", "start", "review",
    "end", "status",
)  # fmt: skip
_CHOICES = {
    "data_classes": DataClass,
    "legal_bases": LegalBasis,
    "conditions": ProcessingCondition,
}


class OutsideAgreement(NotPermitted):
    """A grant or disclosure that no active information-sharing agreement covers."""


def _isa_clean(values: dict[str, Any]) -> dict[str, Any]:
    """Check an agreement's fields; ImportRejected names the first bad field."""
    for name, choices in _CHOICES.items():
        items = values.get(name, [])
        if not isinstance(items, list) or not items:
            raise ImportRejected(f"{name}: give at least one of {', '.join(choices.values)}")
        unknown = [i for i in items if i not in choices.values]
        if unknown:
            raise ImportRejected(
                f"{name}: {unknown[0]!r} is not one of {', '.join(choices.values)}"
            )
    purposes = values.get("purposes", [])
    if (
        not isinstance(purposes, list)
        or not purposes
        or not all(isinstance(p, str) and p.strip() for p in purposes)
    ):
        raise ImportRejected("purposes: give at least one purpose, as text")
    values["purposes"] = [p.strip() for p in purposes]
    if values.get("status", "draft") not in SharingAgreement.Status.values:
        raise ImportRejected(
            f"status: {values['status']!r} is not one of "
            f"{', '.join(SharingAgreement.Status.values)}"
        )
    start, review, end = values.get("start"), values.get("review"), values.get("end")
    if not isinstance(start, date) or not isinstance(review, date):
        raise ImportRejected("start and review: give both as dates (YYYY-MM-DD)")
    if review < start:
        raise ImportRejected("review: the review date is before the start date")
    if end is not None and (not isinstance(end, date) or end < start):
        raise ImportRejected("end: give a date (YYYY-MM-DD) on or after the start date")
    return values


def _isa_snapshot(agreement: SharingAgreement) -> dict[str, Any]:
    snap = {name: getattr(agreement, name) for name in ISA_FIELDS}
    snap["parties"] = sorted(agreement.parties.values_list("slug", flat=True))
    return snap


@transaction.atomic
def isa_create(
    *,
    reference: str,
    partnership: Partnership,
    parties: list[Organisation],
    by: Any = None,
    membership: Membership | None = None,
    **values: Any,
) -> SharingAgreement:
    """A new agreement between ``parties`` (at least two organisations), audited as a
    collection with its values."""
    if len({p.pk for p in parties}) < 2:
        raise ImportRejected("parties: an agreement needs at least two organisations")
    unknown = set(values) - set(ISA_FIELDS)
    if unknown:
        raise ImportRejected(f"{sorted(unknown)[0]}: not a field of an agreement")
    if SharingAgreement.objects.filter(reference=reference).exists():
        raise ImportRejected(f"reference: an agreement {reference!r} already exists")
    agreement = SharingAgreement.objects.create(
        reference=reference, partnership=partnership, **_isa_clean(values)
    )
    agreement.parties.set(parties)
    audit.record(
        action=AuditAction.COLLECTION,
        actor=by,
        membership=membership,
        target=agreement,
        after=_isa_snapshot(agreement),
        detail={"partnership": partnership.slug},
    )
    return agreement


@transaction.atomic
def isa_update(
    *,
    agreement: SharingAgreement,
    parties: list[Organisation] | None = None,
    by: Any = None,
    membership: Membership | None = None,
    **changes: Any,
) -> SharingAgreement:
    """Change an agreement (dates, status, purposes, ...), audited as an alteration with
    the values before and after."""
    unknown = set(changes) - set(ISA_FIELDS)
    if unknown:
        raise ImportRejected(f"{sorted(unknown)[0]}: not a field of an agreement")
    agreement = SharingAgreement.objects.select_for_update().get(pk=agreement.pk)
    before = _isa_snapshot(agreement)
    values = _isa_clean({**{n: getattr(agreement, n) for n in ISA_FIELDS}, **changes})
    for name, value in values.items():
        setattr(agreement, name, value)
    agreement.save()
    if parties is not None:
        if len({p.pk for p in parties}) < 2:
            raise ImportRejected("parties: an agreement needs at least two organisations")
        agreement.parties.set(parties)
    after = _isa_snapshot(agreement)
    changed = sorted(k for k in after if after[k] != before[k])
    audit.record(
        action=AuditAction.ALTERATION,
        actor=by,
        membership=membership,
        target=agreement,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    return agreement


def isa_check(
    from_org: Organisation,
    to_org: Organisation,
    data_class: str,
    purpose: str,
    *,
    on: date | None = None,
) -> SharingAgreement:
    """The active agreement under which ``from_org`` may share ``data_class`` with
    ``to_org`` for ``purpose`` on the day ``on`` (today, Europe/London, by default).

    Raises :class:`OutsideAgreement` if none covers it: no agreement with both as parties,
    none active on that day (status active, started, not ended), or none naming the data
    class and the purpose. A panel or a named user is checked through their organisations.
    """
    on = on or timezone.localdate()
    wanted = purpose.strip().casefold()
    candidates = (
        SharingAgreement.objects.filter(
            status=SharingAgreement.Status.ACTIVE, start__lte=on, parties=from_org
        )
        .filter(parties=to_org)
        .exclude(end__lt=on)
        .order_by("reference")
    )
    for agreement in candidates:
        if data_class in agreement.data_classes and wanted in {
            p.casefold() for p in agreement.purposes
        }:
            return agreement
    raise OutsideAgreement(
        f"No active information-sharing agreement lets {from_org.name} share "
        f"{DataClass(data_class).label.lower() if data_class in DataClass.values else data_class}"
        f" with {to_org.name} for {purpose!r} on {on:%d %B %Y}."
    )


def isa_from_yaml(path: Path) -> dict[str, Any]:
    """An agreement's fields read from a YAML file (docs/audit.md shows one); errors name
    the file and the field. Aliases are refused (a mapping file is small and plain)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportRejected(f"{path}: cannot be read ({exc})") from exc
    if "&" in text or "*" in text:
        try:
            events = list(yaml.parse(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise ImportRejected(f"{path}: not valid YAML ({exc})") from exc
        if any(isinstance(e, yaml.AliasEvent) for e in events):
            raise ImportRejected(f"{path}: YAML aliases are not accepted")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportRejected(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ImportRejected(f"{path}: expected a mapping of fields")
    for name in ("reference", "title", "partnership", "parties", "start", "review"):
        if name not in data:
            raise ImportRejected(f"{path}: {name}: missing")
    return data


@transaction.atomic
def isa_load(data: dict[str, Any], *, by: str, source: str) -> tuple[SharingAgreement, bool]:
    """Create or update the agreement ``data`` describes (from :func:`isa_from_yaml`).
    Returns the agreement and whether it was new."""
    try:
        partnership = Partnership.objects.get(slug=data["partnership"])
    except Partnership.DoesNotExist as exc:
        msg = f"{source}: partnership: no partnership {data['partnership']!r}"
        raise ImportRejected(msg) from exc
    slugs = data["parties"] if isinstance(data["parties"], list) else []
    parties = list(Organisation.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {o.slug for o in parties})
    if missing or not slugs:
        raise ImportRejected(
            f"{source}: parties: no organisation {missing[0]!r}"
            if missing
            else f"{source}: parties: give the organisations' slugs as a list"
        )
    values = {k: data[k] for k in ISA_FIELDS if k in data}
    existing = SharingAgreement.objects.filter(reference=data["reference"]).first()
    try:
        if existing is None:
            made = isa_create(
                reference=str(data["reference"]),
                partnership=partnership,
                parties=parties,
                by=by,
                **values,
            )
            return made, True
        if existing.partnership_id != partnership.pk:
            raise ImportRejected("partnership: the agreement belongs to another partnership")
        return isa_update(agreement=existing, parties=parties, by=by, **values), False
    except ImportRejected as exc:
        raise ImportRejected(f"{source}: {exc}") from exc


# ----------------------------------------------------------------------------------------
# The second factor (django-otp): an authenticator app (TOTP) and recovery codes


RECOVERY_DEVICE = "Recovery codes"
APP_DEVICE = "Authenticator app"


def second_factor_pending(user: AbstractBaseUser) -> TOTPDevice:
    """The user's unconfirmed authenticator device (a new secret if there is none)."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE, confirmed=False)
    return device


@transaction.atomic
def second_factor_confirm(device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm an enrolment with a code from the app; returns the new recovery codes (shown
    once, stored only as device tokens), or None if the code is wrong."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.confirmed or not device.verify_token(code.replace(" ", "")):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    StaticDevice.objects.filter(user_id=device.user_id).delete()
    recovery = StaticDevice.objects.create(user_id=device.user_id, name=RECOVERY_DEVICE)
    codes = [StaticToken.random_token() for _ in range(settings.CSP_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=recovery, token=c) for c in codes])
    return codes


@transaction.atomic
def second_factor_reset(user: AbstractBaseUser) -> int:
    """Remove a user's second factor (app and recovery codes) and end their sessions; they
    enrol again at their next sign-in. Returns how many devices were removed."""
    devices = [
        TOTPDevice.objects.filter(user_id=user.pk),
        StaticDevice.objects.filter(user_id=user.pk),
    ]
    removed = int(sum(qs.count() for qs in devices))
    for qs in devices:
        qs.delete()
    user_sessions_end(user)
    return removed


# ----------------------------------------------------------------------------------------
# Panels and grants of records (core/policy.py): each write audited


@transaction.atomic
def panel_create(
    *, by: Membership, name: str, kind: str, members: list[Any] | None = None
) -> Panel:
    """A panel of the administrator's partnership, audited as a collection."""
    if not policy.membership_allows(by, policy.PANEL, "manage"):
        raise NotPermitted("Only the partnership's administrators create panels.")
    if kind not in Panel.Kind.values:
        raise ImportRejected(f"kind: {kind!r} is not one of {', '.join(Panel.Kind.values)}")
    panel = Panel.objects.create(partnership=by.partnership, name=name.strip(), kind=kind)
    users = members or []
    panel.members.set(users)
    audit.record(
        action=AuditAction.COLLECTION,
        actor=by.user,
        membership=by,
        target=("panel", str(panel.uuid)),
        after={"name": panel.name, "kind": kind, "members": sorted(u.pk for u in users)},
    )
    return panel


def _recipient_organisations(
    organisation: Organisation | None, panel: Panel | None, user: Any
) -> list[Organisation]:
    if organisation is not None:
        return [organisation]
    if panel is not None:
        return list(
            Organisation.objects.filter(memberships__user__in=panel.members.all()).distinct()
        )
    return list(Organisation.objects.filter(memberships__user=user).distinct())


@transaction.atomic
def grant_create(
    *,
    by: Membership,
    resource: str,
    record: policy.Record,
    purpose: str,
    expires_at: datetime,
    organisation: Organisation | None = None,
    panel: Panel | None = None,
    user: Any = None,
    data_class: str | None = None,
    request: HttpRequest | None = None,
) -> Grant:
    """Share one record with an organisation, a panel or a named user until ``expires_at``.

    Refused (:class:`NotPermitted`) unless ``by`` may ``share`` the record (core/policy.py),
    exactly one grantee is named, the expiry is in the future, and an active
    information-sharing agreement lets the record's owner share its data class with every
    recipient organisation for ``purpose`` (:func:`isa_check`; a panel's are the organisations its
    members work for). Audited as a disclosure to the grantee."""
    declared = policy.policy_for(resource)
    subject = policy.subject_for(by.user)
    decision = policy.decide(subject, declared, "share", record)
    if decision is not policy.Decision.ALLOW or record.partnership_id != by.partnership_id:
        raise NotPermitted(f"You may not share this {resource}.")
    if sum(x is not None for x in (organisation, panel, user)) != 1:
        raise ImportRejected("grantee: name exactly one organisation, panel or user")
    if panel is not None and panel.partnership_id != by.partnership_id:
        raise NotPermitted("The panel belongs to another partnership.")
    if expires_at <= timezone.now():
        raise ImportRejected("expires_at: a grant's expiry must be in the future")
    data_class = data_class or declared.data_class
    owner = (
        Organisation.objects.get(pk=record.organisation_id)
        if record.organisation_id is not None
        else by.organisation
    )
    recipients = _recipient_organisations(organisation, panel, user)
    if not recipients:
        raise OutsideAgreement("The grantee works for no organisation an agreement could cover.")
    agreements = [isa_check(owner, to, data_class, purpose) for to in recipients]
    grant = Grant.objects.create(
        target_type=resource,
        target_id=record.public_id,
        owner=owner,
        organisation=organisation,
        panel=panel,
        user=user,
        agreement=agreements[0],
        data_class=data_class,
        purpose=purpose.strip(),
        expires_at=expires_at,
        granted_by=by.user,
    )
    audit.record(
        action=AuditAction.DISCLOSURE,
        actor=by.user,
        membership=by,
        request=request,
        target=(resource, record.public_id),
        recipient=grant.grantee_label,
        purpose=grant.purpose,
        detail={
            "grant": str(grant.uuid),
            "agreements": sorted({a.reference for a in agreements}),
            "data_class": data_class,
            "expires_at": expires_at.isoformat(),
        },
    )
    return grant


@transaction.atomic
def grant_revoke(*, grant: Grant, by: Membership, request: HttpRequest | None = None) -> Grant:
    """End a grant now (it stays, with ``revoked_at``); audited as an alteration. Effective
    on the grantee's next request: nothing about it is cached."""
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    declared = policy.policy_for(grant.target_type)
    sharers = declared.actions.get("share", frozenset())
    owners = by.partnership.organisations.filter(pk=grant.owner_id).exists()
    if by.role not in sharers or not (owners or by.organisation_id == grant.owner_id):
        raise NotPermitted("You may not revoke this grant.")
    if grant.revoked_at is not None:
        return grant
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    audit.record(
        action=AuditAction.ALTERATION,
        actor=by.user,
        membership=by,
        request=request,
        target=(grant.target_type, grant.target_id),
        before={"grant": str(grant.uuid), "revoked_at": None},
        after={"grant": str(grant.uuid), "revoked_at": grant.revoked_at.isoformat()},
        recipient=grant.grantee_label,
    )
    return grant
