"""Sign-in, the pause after failed attempts, session timeouts, and nothing without signing in."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import NoReverseMatch, get_resolver, reverse
from django.utils import timezone

from csp_platform.core import services
from csp_platform.core.middleware import STARTED
from csp_platform.core.models import SignInThrottle
from tests.platform.test_conventions import walk
from tests.platform.web.conftest import MIDDLESBROUGH, PASSWORD

SIGN_IN = "/sign-in/"


def sign_in(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(SIGN_IN, {"username": username, "password": password})


def error_text(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(
        rb'govuk-error-summary__list"><li><a href="#id_username">(.*?)</a>', response.content
    )
    return found.group(1).decode() if found else ""


def test_a_member_signs_in_with_a_new_session_key_and_lands_on_their_hub(personas):
    client = Client()
    client.get(SIGN_IN)
    before = client.cookies.get("sessionid")
    response = sign_in(client, "analyst", PASSWORD)
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != (before.value if before else None)
    assert client.get(response["Location"]).status_code == 302  # home -> the only partnership
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 200


def test_known_and_unknown_usernames_get_the_same_answer(personas):
    known = sign_in(Client(), "analyst", "wrong password")
    unknown = sign_in(Client(), "nobody-by-that-name", "wrong password")
    assert known.status_code == unknown.status_code == 200
    assert error_text(known) and error_text(known) == error_text(unknown)


@pytest.mark.parametrize("username", ["analyst", "no-such-user"])
def test_six_failures_pause_signing_in_even_with_the_right_password(personas, username):
    client = Client()
    answers = [error_text(sign_in(client, username, f"wrong {i}")) for i in range(6)]
    assert "this username is paused" in answers[-1] and "this username is paused" not in answers[0]
    after = sign_in(client, username, PASSWORD)
    assert after.status_code == 200 and "this username is paused" in error_text(after)
    # the pause ends after 30 minutes
    SignInThrottle.objects.filter(username=username).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    if username == "analyst":
        assert sign_in(client, username, PASSWORD).status_code == 302


def test_the_answers_for_a_paused_known_and_unknown_username_are_identical(personas):
    for name in ("analyst", "no-such-user"):
        for i in range(6):
            sign_in(Client(), name, f"wrong {i}")
    known, unknown = sign_in(Client(), "analyst", PASSWORD), sign_in(Client(), "no-such-user", "x")
    assert known.status_code == unknown.status_code
    assert error_text(known) == error_text(unknown)


def test_failures_spread_over_more_than_the_pause_length_never_pause(personas):
    now = timezone.now()
    for i in range(10):
        paused = services.sign_in_failed("analyst", now=now + timedelta(minutes=31 * i))
        assert not paused


def test_a_session_ends_after_30_idle_minutes_and_after_10_hours_in_any_case(personas):
    client = Client()
    assert sign_in(client, "analyst", PASSWORD).status_code == 302
    hub = reverse("hub:hub", args=[MIDDLESBROUGH])
    assert client.get(hub).status_code == 200
    assert client.session.get_expiry_age() <= 30 * 60
    session = client.session
    session[STARTED] = int(time.time()) - 10 * 3600 - 1
    session.save()
    response = client.get(hub)
    assert response.status_code == 302 and response["Location"].startswith(SIGN_IN)
    assert client.get(hub).status_code == 302  # signed out, not just redirected once


@override_settings(SESSION_COOKIE_AGE=1)
def test_an_idle_session_expires(personas):
    client = Client()
    sign_in(client, "analyst", PASSWORD)
    time.sleep(1.1)
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 302


def test_deactivating_a_user_ends_their_session_on_the_next_request(personas):
    client = Client()
    sign_in(client, "analyst", PASSWORD)
    personas["analyst"].is_active = False
    personas["analyst"].save()
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 302


def test_an_administrator_can_end_a_users_sessions(personas):
    client = Client()
    sign_in(client, "analyst", PASSWORD)
    assert services.user_sessions_end(personas["analyst"]) == 1
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 302


def test_sign_in_does_not_follow_a_next_address_to_another_site(personas):
    response = Client().post(
        SIGN_IN + "?next=https://evil.example/", {"username": "analyst", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def _address(name: str) -> str:
    here = {"partnership": MIDDLESBROUGH}
    for kwargs in (
        {},
        here,
        {**here, "code": "E05001497"},
        {**here, "member_id": 1},
        {**here, "target_type": "area", "target_id": "E05001497"},
        {"uidb64": "MQ", "token": "not-a-token"},
    ):
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            pass
    raise NoReverseMatch(name)


def test_nothing_but_the_sign_in_page_answers_without_signing_in(personas):
    client = Client()
    for name, _ in walk(get_resolver()):
        response = client.get(_address(name))
        if name == "core:sign_in":
            assert response.status_code == 200
        elif name == "core:set_password":  # public, but a link that is not valid is a 404
            assert response.status_code == 404 and b"not valid" in response.content
        else:
            assert response.status_code == 302, name
            assert response["Location"].startswith(SIGN_IN), name


def assert_security_headers(response, what: str) -> None:  # type: ignore[no-untyped-def]
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, what
    assert response["X-Frame-Options"] == "DENY", what
    assert response["X-Content-Type-Options"] == "nosniff", what
    assert response["Referrer-Policy"] == "same-origin", what
    if response["Content-Type"].startswith("text/html"):
        body = response.content.decode()
        # no inline script anywhere (data blocks, type="application/json", are not run)
        inline = [
            tag
            for tag in re.findall(r"<script\b[^>]*>", body)
            if "src=" not in tag and 'type="application/json"' not in tag
        ]
        assert not inline, (what, inline)


def test_the_security_headers_are_on_every_page(personas):
    pages = []
    # Every URL of the site, signed in as the partnership's administrator (who may open all
    # of them), each from a fresh session (one of them signs out).
    for name, _ in walk(get_resolver()):
        client = Client()
        client.force_login(personas["administrator"])
        pages.append((name, client.get(_address(name))))
    anonymous = Client()
    pages += [
        ("sign-in, anonymous", anonymous.get(SIGN_IN)),
        ("redirect to sign-in", anonymous.get(reverse("hub:hub", args=[MIDDLESBROUGH]))),
        ("admin sign-in", anonymous.get("/admin/login/")),
    ]
    councillor = Client()
    councillor.force_login(personas["councillor"])
    pages += [
        ("403", councillor.get(reverse("hub:forecast", args=[MIDDLESBROUGH]))),
        ("404", councillor.get("/p/no-such-partnership/")),
        ("400", councillor.get(reverse("hub:hub", args=[MIDDLESBROUGH]), {"category": "x"})),
        ("405", councillor.post(reverse("hub:hub", args=[MIDDLESBROUGH]))),
    ]
    assert len(pages) > 20
    for what, response in pages:
        assert response.status_code < 500, what
        assert_security_headers(response, what)
    statuses = {what: r.status_code for what, r in pages}
    assert (statuses["403"], statuses["404"], statuses["400"], statuses["405"]) == (
        403,
        404,
        400,
        405,
    )
    assert sum(1 for r in dict(pages).values() if r.status_code == 200) >= 15
