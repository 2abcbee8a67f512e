"""Web tests: personas (one per role in Middlesbrough, plus outsiders) and real Cleveland
data (four police.uk months), committed once per test module and removed afterwards.

Test-client tests run inside a transaction on top of that world (writes are rolled back).
Browser tests (``@pytest.mark.browser``) need a live server, hence committed data of their
own: they build it per test with :func:`build_world` (pytest-django flushes after each).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from csp_platform.areas import services as area_services
from csp_platform.areas.models import Area
from csp_platform.core import services as core_services
from csp_platform.core.cache import forget
from csp_platform.core.models import (
    Membership,
    Organisation,
    Partnership,
    Role,
)
from csp_platform.demo import services as demo_services
from csp_platform.incidents import services as incident_services
from csp_platform.incidents.models import AreaMonthCount, ImportBatch, Incident, Source
from tests.conftest import DATA
from tests.platform.conftest import CLEVELAND

PASSWORD = "a long test passphrase 2024"
MONTHS = ("2018-11", "2018-12", "2019-01", "2019-02")
MIDDLESBROUGH = "middlesbrough"
# A ward of Middlesbrough (2013 boundaries) and one of Hartlepool (another partnership).
MIDDLEHAVEN = "E05001497"
HARTLEPOOL_WARD = "E05008942"

# persona -> (partnership slug, role, organisation slug)
PERSONAS: dict[str, tuple[str, Role, str]] = {
    "analyst": (MIDDLESBROUGH, Role.ANALYST, "cleveland-police"),
    "officer": (MIDDLESBROUGH, Role.PARTNER_OFFICER, "cleveland-fire-brigade"),
    "manager": (MIDDLESBROUGH, Role.PARTNERSHIP_MANAGER, "middlesbrough-council"),
    "councillor": (MIDDLESBROUGH, Role.COUNCILLOR, "middlesbrough-council"),
    "data_manager": (MIDDLESBROUGH, Role.DATA_MANAGER, "middlesbrough-council"),
    "administrator": (MIDDLESBROUGH, Role.ADMINISTRATOR, "middlesbrough-council"),
    "auditor": (MIDDLESBROUGH, Role.AUDITOR, "middlesbrough-council"),
    # An analyst of another partnership: an outsider to Middlesbrough.
    "outsider": ("hartlepool", Role.ANALYST, "hartlepool-council"),
}
ROLE_OF = {name: role for name, (_, role, _) in PERSONAS.items()}


def police_files(months: tuple[str, ...] = MONTHS) -> list[Path]:
    folder = DATA / "police" / "cleveland"
    return [folder / m / f"{m}-cleveland-street.csv" for m in months]


def areas_ensure() -> None:
    """Cleveland's districts, wards and LSOAs with population (if not already there)."""
    if Area.objects.filter(level="lsoa").exists():
        return
    bounds = DATA / "boundaries"
    for level, folder in (
        ("district", "districts_2011"),
        ("ward", "wards_2013"),
        ("lsoa", "lsoa_2011"),
    ):
        area_services.areas_import(
            [bounds / folder / f"{c}.geojson" for c in CLEVELAND], level=level
        )
    area_services.population_import(
        DATA / "population" / "census2011_lsoa_population_households.csv"
    )


def totp_now(device: TOTPDevice) -> str:
    """The code an authenticator app shows now, computed from the device's key (RFC 6238)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def totp_next(username: str) -> str:
    """A code the user's app would show that the server has not accepted yet: a code is
    good once, so a second sign-in in the same 30 seconds takes the next step's code (within
    the device's tolerance), or waits for it."""
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    step = max(totp.t(), device.last_t + 1)
    if step > totp.t() + device.tolerance:
        time.sleep(device.step - (time.time() - device.t0) % device.step + 0.1)
        return totp_next(username)
    totp.time = device.t0 + (step - device.drift) * device.step
    return f"{totp.token():0{device.digits}d}"


def authenticator_enrol(user: Any) -> TOTPDevice:
    """An authenticator app set up for the user, as the enrolment page does it."""
    device = core_services.second_factor_pending(user)
    codes = core_services.second_factor_confirm(device, totp_now(device))
    assert codes, "enrolment refused a code computed from the device's key"
    device.refresh_from_db()
    return device


def personas_create() -> dict[str, Any]:
    """Every persona has a password and an authenticator app (the roles that see incident
    points must have one; the others chose to)."""
    demo_services.partnerships_cleveland_ensure()
    users: dict[str, Any] = {}
    model = get_user_model()
    for name, (slug, role, org) in PERSONAS.items():
        user = model.objects.create_user(username=name, password=PASSWORD)
        core_services.membership_set(
            user=user,
            partnership=Partnership.objects.get(slug=slug),
            organisation=Organisation.objects.get(slug=org),
            role=role,
        )
        authenticator_enrol(user)
        users[name] = user
    users["no_membership"] = model.objects.create_user(username="nobody", password=PASSWORD)
    return users


def build_world(months: tuple[str, ...] = MONTHS) -> dict[str, Any]:
    """Areas, the four Cleveland partnerships, personas and police.uk months."""
    areas_ensure()
    incident_services.police_uk_import(police_files(months))
    return personas_create()


def world_remove() -> None:
    Incident.objects.all().delete()
    AreaMonthCount.objects.all().delete()
    ImportBatch.objects.all().delete()
    Source.objects.all().delete()
    Membership.objects.all().delete()
    for model in (AccessAttempt, AccessFailureLog, AccessLog, TOTPDevice, StaticDevice):
        model.objects.all().delete()
    get_user_model().objects.all().delete()
    Partnership.objects.all().delete()
    Organisation.objects.all().delete()


@pytest.fixture(scope="module")
def world(cleveland_areas: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Committed for the module: personas and four months of Cleveland police data."""
    with django_db_blocker.unblock():
        world_remove()
        users = build_world()
    yield users
    with django_db_blocker.unblock():
        world_remove()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    forget()
    yield
    forget()


class VerifiedClient(Client):
    """A test client whose ``force_login`` also completes the second step, as signing in with
    the password and a code from the user's authenticator app does."""

    def force_login(self, user: Any, backend: str | None = None) -> None:
        super().force_login(user, backend)
        device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()
        if device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()


@pytest.fixture
def client() -> VerifiedClient:
    return VerifiedClient()


@dataclass
class Personas:
    users: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.users[name]


@pytest.fixture
def personas(world: dict[str, Any], db: None) -> Personas:
    return Personas(world)


def client_for(personas: Personas, name: str) -> VerifiedClient:
    """A client signed in as the persona ``name`` (both steps, as :class:`VerifiedClient`)."""
    client = VerifiedClient()
    client.force_login(personas[name])
    return client


def csp_json(*args: str) -> list[dict[str, Any]]:
    """`csp COMMAND ... --format json` as an analyst would run it."""
    out = StringIO()
    call_command(*args, "--format", "json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())
