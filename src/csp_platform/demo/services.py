"""The demo and the Cleveland set-up: the four Cleveland partnerships with their councils,
police and fire brigade, and one demo sign-in per role (``csp load-demo``, and the tests'
fixtures). It sits above every other app (it loads areas, incidents and plans), so nothing
in the product depends on it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from csp_platform.areas.models import Area
from csp_platform.core.models import Organisation, Partnership, Role
from csp_platform.core.services import membership_set

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
    # An address on the reserved .invalid domain, so the demo's weekly digest has someone to
    # write to (the console backend prints it; nothing is delivered).
    user.email = user.email or f"{username}@demo.invalid"
    user.set_password(password)
    user.save()
    return DemoLogin(username, password)


# (role, username, organisation slug): one demo sign-in per role, in Middlesbrough.
DEMO_USERS = (
    (Role.ADMINISTRATOR, "demo", "middlesbrough-council"),
    (Role.ANALYST, "analyst", "cleveland-police"),
    (Role.PARTNER_OFFICER, "officer", "cleveland-fire-brigade"),
    (Role.PARTNERSHIP_MANAGER, "manager", "middlesbrough-council"),
    (Role.COUNCILLOR, "councillor", "middlesbrough-council"),
    (Role.DATA_MANAGER, "data-manager", "middlesbrough-council"),
    (Role.AUDITOR, "auditor", "middlesbrough-council"),
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
