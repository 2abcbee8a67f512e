"""Writes for organisations, partnerships, memberships, export records and second factors,
and the demo set-up. (Sign-in limits are django-axes', configured in core/sign_in.py.)"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from csp_platform.areas.models import Area
from csp_platform.core.models import (
    ExportRecord,
    Membership,
    Organisation,
    Partnership,
    Role,
)

# The four Cleveland community safety partnerships and their districts (2011 codes).
CLEVELAND_PARTNERSHIPS = {
    "E06000001": ("hartlepool", "Safer Hartlepool Partnership", "Hartlepool Borough Council"),
    "E06000002": (
        "middlesbrough",
        "Middlesbrough Community Safety Partnership",
        "Middlesbrough Council",
    ),
    "E06000003": (
        "redcar-cleveland",
        "Redcar & Cleveland Community Safety Partnership",
        "Redcar and Cleveland Borough Council",
    ),
    "E06000004": ("stockton", "Safer Stockton Partnership", "Stockton-on-Tees Borough Council"),
}
SHARED_PARTNERS = [
    ("cleveland-police", "Cleveland Police", Organisation.Kind.POLICE),
    ("cleveland-fire-brigade", "Cleveland Fire Brigade", Organisation.Kind.FIRE),
]


@transaction.atomic
def partnerships_cleveland_ensure() -> list[Partnership]:
    """The Cleveland partnerships, each with its council, the police and the fire brigade."""
    shared = [
        Organisation.objects.get_or_create(slug=s, defaults={"name": n, "kind": k})[0]
        for s, n, k in SHARED_PARTNERS
    ]
    made = []
    for code, (slug, name, council) in CLEVELAND_PARTNERSHIPS.items():
        partnership, _ = Partnership.objects.get_or_create(slug=slug, defaults={"name": name})
        org, _ = Organisation.objects.get_or_create(
            slug=slug + "-council", defaults={"name": council, "kind": Organisation.Kind.COUNCIL}
        )
        partnership.organisations.add(org, *shared)
        district = Area.objects.filter(level="district", code=code).first()
        if district:
            partnership.districts.add(district)
        made.append(partnership)
    return made


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str = ""


def demo_user_reset(username: str = "demo", *, staff: bool = True) -> DemoLogin:
    """An account for the local demo, with a new random password each time."""
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = staff
    user.is_active = True
    user.set_password(password)
    user.save()
    return DemoLogin(username, password)


# ----------------------------------------------------------------------------------------
# Memberships and the demo sign-ins


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


# (role, username, organisation slug): one demo sign-in per role, in Middlesbrough.
DEMO_USERS = (
    (Role.ADMINISTRATOR, "demo", "middlesbrough-council"),
    (Role.ANALYST, "analyst", "cleveland-police"),
    (Role.PARTNER_OFFICER, "officer", "cleveland-fire-brigade"),
    (Role.PARTNERSHIP_MANAGER, "manager", "middlesbrough-council"),
    (Role.COUNCILLOR, "councillor", "middlesbrough-council"),
    (Role.DATA_MANAGER, "data-manager", "middlesbrough-council"),
)


@transaction.atomic
def demo_users_reset(partnership_slug: str = "middlesbrough") -> list[DemoLogin]:
    """One demo user per role in the partnership, each with a new random password.

    The administrator ('demo') is also Django staff, for the admin site.
    """
    partnership = Partnership.objects.get(slug=partnership_slug)
    logins = []
    for role, username, org_slug in DEMO_USERS:
        login = demo_user_reset(username, staff=role == Role.ADMINISTRATOR)
        user = get_user_model().objects.get(username=username)
        organisation = Organisation.objects.get(slug=org_slug)
        membership_set(user=user, partnership=partnership, organisation=organisation, role=role)
        logins.append(DemoLogin(login.username, login.password, role.label))
    return logins


# ----------------------------------------------------------------------------------------
# Exports: every one recorded


def export_record(
    *,
    membership: Membership,
    kind: str,
    parameters: dict[str, Any],
    rows: int,
    point_level: bool,
    route: str,
    ip: str | None,
) -> ExportRecord:
    """Record an export; call it in the view that hands the file over, before returning it."""
    user = membership.user
    return ExportRecord.objects.create(
        user=user,
        username=user.get_username(),
        partnership=membership.partnership,
        organisation=membership.organisation.name,
        role=membership.role,
        kind=kind,
        point_level=point_level,
        parameters=parameters,
        rows=rows,
        route=route[:500],
        ip=ip,
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
