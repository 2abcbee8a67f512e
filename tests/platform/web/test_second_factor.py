"""The second factor (issue 10, item 4): required for the roles that see incident points,
available to all; enrolment, the second step of signing in, recovery codes, reset."""

from __future__ import annotations

import re
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from csp_platform.core.models import Membership, Role
from tests.platform.web.conftest import MIDDLESBROUGH, PASSWORD, totp_next

SIGN_IN = "/sign-in/"
STEP = reverse("core:second_factor")
ENROL = reverse("core:second_factor_enrol")
HUB = reverse("hub:hub", args=[MIDDLESBROUGH])


def password_step(client: Client, username: str, next_url: str = ""):  # type: ignore[no-untyped-def]
    query = f"?next={next_url}" if next_url else ""
    return client.post(SIGN_IN + query, {"username": username, "password": PASSWORD})


def without_device(username: str) -> None:
    TOTPDevice.objects.filter(user__username=username).delete()
    StaticDevice.objects.filter(user__username=username).delete()


def code_from_page(page: bytes) -> str:
    """The code an authenticator app would show for the key the enrolment page prints."""
    groups = re.search(rb'id="enrol-secret"[^>]*>(.*?)</p>', page, re.S)
    assert groups, "no key on the enrolment page"
    secret = re.sub(rb"<[^>]+>|\s", b"", groups.group(1)).decode()
    from base64 import b32decode

    return f"{TOTP(b32decode(secret)).token():06d}"


@pytest.mark.parametrize("name", ["analyst", "officer", "administrator"])
def test_a_role_that_sees_points_must_enrol_before_any_partnership_page(personas, name):
    without_device(name)
    client = Client()
    first = password_step(client, name)
    assert first["Location"] == ENROL
    for path in (HUB, reverse("hub:points_data", args=[MIDDLESBROUGH]), reverse("core:home"), "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(ENROL + "?next="), path


@pytest.mark.parametrize("name", ["manager", "councillor", "data_manager"])
def test_roles_without_point_level_data_need_no_second_factor_but_may_add_one(personas, name):
    without_device(name)
    client = Client()
    assert password_step(client, name)["Location"] == "/"
    assert client.get(HUB).status_code == 200
    page = client.get(ENROL)
    assert page.status_code == 200 and b"You can add a second step" in page.content


def test_enrol_with_the_key_on_the_page_then_sign_in_with_the_app_and_a_recovery_code(personas):
    without_device("officer")
    client = Client()
    password_step(client, "officer", next_url=HUB)
    page = client.get(ENROL + f"?next={HUB}")
    assert page.status_code == 200
    assert b"<svg" in page.content and b"QR code for your authenticator app" in page.content
    wrong = client.post(ENROL, {"code": "000000", "next": HUB})
    assert b"Enter the 6-digit code" in wrong.content
    time.sleep(1.1)  # a wrong code holds the next try back for a second (django-otp)
    done = client.post(ENROL, {"code": code_from_page(page.content), "next": HUB})
    assert done.status_code == 200
    codes = re.findall(rb"<li><code>(\w+)</code></li>", done.content)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(
        StaticToken.objects.filter(device__user__username="officer").values_list("token", flat=True)
    )
    assert {c.decode() for c in codes} == stored
    assert client.get(HUB).status_code == 200  # verified in this session
    assert client.get(ENROL).status_code == 200  # "your app is set up", no new key
    assert b"enrol-secret" not in client.get(ENROL).content

    # Next sign-in: password, then the app's code.
    again = Client()
    assert password_step(again, "officer")["Location"] == STEP
    assert again.get(HUB)["Location"].startswith(STEP + "?next=")
    assert b"There is a problem" in again.post(STEP, {"code": "123456"}).content
    time.sleep(1.1)
    assert again.post(STEP, {"code": totp_next("officer")}).status_code == 302
    assert again.get(HUB).status_code == 200

    # A recovery code works once.
    recovery = codes[0].decode()
    for attempt, expected in ((recovery, 302), (recovery, 200)):
        c = Client()
        password_step(c, "officer")
        assert c.post(STEP, {"code": attempt}).status_code == expected
    assert StaticToken.objects.filter(device__user__username="officer").count() == 9


def test_a_code_is_good_once(personas):
    code = totp_next("analyst")
    first, second = Client(), Client()
    password_step(first, "analyst")
    password_step(second, "analyst")
    assert first.post(STEP, {"code": code}).status_code == 302
    assert second.post(STEP, {"code": code}).status_code == 200


def test_wrong_codes_hold_the_next_try_back(personas):
    client = Client()
    password_step(client, "analyst")
    assert client.post(STEP, {"code": "000001"}).status_code == 200
    # at once after a wrong code, even the right one is refused, with a reason
    held = client.post(STEP, {"code": totp_next("analyst")})
    assert held.status_code == 200 and b"Wait a few seconds" in held.content
    time.sleep(1.1)
    assert client.post(STEP, {"code": totp_next("analyst")}).status_code == 302


def test_a_member_who_gains_a_point_level_role_is_sent_to_enrol(personas):
    without_device("councillor")
    client = Client()
    password_step(client, "councillor")
    assert client.get(HUB).status_code == 200
    Membership.objects.filter(user__username="councillor").update(role=Role.ANALYST)
    assert client.get(HUB)["Location"].startswith(ENROL)


def test_an_administrator_resets_a_second_factor_from_the_command_line(personas, caplog):
    client = Client()
    password_step(client, "analyst")
    client.post(STEP, {"code": totp_next("analyst")})
    assert client.get(HUB).status_code == 200
    out = StringIO()
    with caplog.at_level("INFO", logger="csp.security"):
        call_command("csp_reset_second_factor", "analyst", stdout=out)
    assert "second factor removed (2 device(s))" in out.getvalue()
    events = [r.security for r in caplog.records if hasattr(r, "security")]
    assert {"event": "second factor reset", "username": "analyst"}.items() <= events[-1].items()
    assert not TOTPDevice.objects.filter(user__username="analyst").exists()
    assert not StaticDevice.objects.filter(user__username="analyst").exists()
    assert client.get(HUB)["Location"].startswith(SIGN_IN)  # sessions ended
    fresh = Client()
    assert password_step(fresh, "analyst")["Location"] == ENROL  # enrols again
    with pytest.raises(CommandError, match="no user named 'nobody-here'"):
        call_command("csp_reset_second_factor", "nobody-here")
