"""Writes for organisations, partnerships, memberships, export records and sign-in throttling,
and the demo set-up."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from csp_platform.areas.models import Area
from csp_platform.core.models import (
    ExportRecord,
    Membership,
    Organisation,
    Partnership,
    Role,
    SignInThrottle,
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


def demo_user_reset(username: str = "demo", *, superuser: bool = False) -> DemoLogin:
    """An account for the local demo, with a new random password each time. Only a
    developer's account is a superuser (the admin site); partnership roles never are."""
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = superuser
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

    None is staff or a superuser: the administrator ('demo') manages members on the
    partnership's Members page, not in the admin site (which is for developers).
    """
    partnership = Partnership.objects.get(slug=partnership_slug)
    logins = []
    for role, username, org_slug in DEMO_USERS:
        login = demo_user_reset(username)
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


# ----------------------------------------------------------------------------------------
# Sign-in throttling: a pause after too many failures, the same for unknown usernames


def _throttle_key(username: str) -> str:
    return username.strip().lower()[:150]


def sign_in_paused(username: str, *, now: datetime | None = None) -> bool:
    """Is sign-in for this username paused after too many failures?"""
    now = now or timezone.now()
    row = SignInThrottle.objects.filter(username=_throttle_key(username)).first()
    return bool(row and row.locked_until and row.locked_until > now)


@transaction.atomic
def sign_in_failed(username: str, *, now: datetime | None = None) -> bool:
    """Count a failure; returns True when this failure starts a pause.

    Failures older than the pause length are forgotten, so a slow trickle never locks out.
    """
    now = now or timezone.now()
    window = timedelta(minutes=settings.CSP_SIGN_IN_LOCK_MINUTES)
    row, _ = SignInThrottle.objects.select_for_update().get_or_create(
        username=_throttle_key(username)
    )
    if row.last_failure_at is None or now - row.last_failure_at > window:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    paused = row.failures >= settings.CSP_SIGN_IN_MAX_FAILURES
    if paused:
        row.locked_until = now + window
        row.failures = 0
    row.save()
    return paused


def sign_in_succeeded(username: str) -> None:
    SignInThrottle.objects.filter(username=_throttle_key(username)).delete()


def user_sessions_end(user: AbstractBaseUser) -> int:
    """End every live session of a user (admin action; ASVS 7.4.5). Returns how many."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()):
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
            ended += 1
    return ended
