"""Writes for organisations, partnerships and the demo set-up."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from csp_platform.areas.models import Area
from csp_platform.core.models import Organisation, Partnership

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


def demo_user_reset(username: str = "demo") -> DemoLogin:
    """A staff account for the local demo, with a new random password each time."""
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return DemoLogin(username, password)
