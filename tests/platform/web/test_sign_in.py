"""Sign-in, the pause after failed attempts, session timeouts, and nothing without signing in."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, override_settings
from django.urls import NoReverseMatch, get_resolver, reverse
from django.utils import timezone

from csp_platform.core import services
from csp_platform.core.middleware import STARTED
from tests.platform.test_conventions import walk
from tests.platform.web.conftest import MIDDLESBROUGH, PASSWORD, VerifiedClient, totp_next

SIGN_IN = "/sign-in/"
PAUSED = "Signing in is paused"


def sign_in(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(SIGN_IN, {"username": username, "password": password})


def sign_in_fully(client: Client, username: str, next_url: str = ""):  # type: ignore[no-untyped-def]
    """Password, then the code from the user's authenticator app."""
    query = f"?next={next_url}" if next_url else ""
    first = client.post(SIGN_IN + query, {"username": username, "password": PASSWORD})
    assert first.status_code == 302, error_text(first)
    return client.post(first["Location"], {"code": totp_next(username)})


def sign_in_as(client: Client, username: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(SIGN_IN, {"username": username, "password": password}, **extra)


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
    # The analyst sees incident points: the second step comes first.
    assert response["Location"] == reverse("core:second_factor")
    response = client.post(reverse("core:second_factor"), {"code": totp_next("analyst")})
    assert response.status_code == 302
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
    assert PAUSED in answers[-1] and all(PAUSED not in a for a in answers[:-1])
    after = sign_in(client, username, PASSWORD)
    assert after.status_code == 429 and PAUSED in error_text(after)
    # the pause ends after 30 minutes
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    if username == "analyst":
        assert sign_in(client, username, PASSWORD).status_code == 302


def test_the_answers_for_a_paused_known_and_unknown_username_are_identical(personas):
    for name in ("analyst", "no-such-user"):
        for i in range(6):
            sign_in(Client(), name, f"wrong {i}")
    known, unknown = sign_in(Client(), "analyst", PASSWORD), sign_in(Client(), "no-such-user", "x")
    assert known.status_code == unknown.status_code == 429
    assert error_text(known) == error_text(unknown)


def test_the_admin_login_is_our_sign_in_and_cannot_be_used_to_get_round_a_pause(personas):
    """Issue 9, item 3: after a pause on /sign-in/, /admin/login/ took 20 more guesses and
    then the right password, logged none of them, and opened the partnership's pages."""
    client = Client()
    for i in range(6):
        sign_in(client, "analyst", f"wrong {i}")
    assert sign_in(client, "analyst", PASSWORD).status_code == 429
    admin_login = reverse("admin:login")
    for i in range(20):
        client.post(admin_login, {"username": "analyst", "password": f"guess {i}"})
    response = client.post(
        admin_login + "?next=/admin/", {"username": "analyst", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == SIGN_IN + "?next=%2Fadmin%2F"
    assert "_auth_user_id" not in client.session  # nobody signed in
    hub = client.get(reverse("hub:hub", args=[MIDDLESBROUGH]))
    assert hub.status_code == 302 and hub["Location"].startswith(SIGN_IN)
    # The admin site sends people to our sign-in page, which still says paused.
    assert client.get("/admin/")["Location"].startswith(admin_login)
    assert sign_in(client, "analyst", PASSWORD).status_code == 429


def test_one_password_sprayed_over_40_usernames_from_one_address_is_stopped(personas):
    """Issue 9, item 3: one password against 40 user names from one address was checked 40
    times. The address is paused after CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS failures, and a
    forged X-Forwarded-For does not make it a new address."""
    limit = settings.CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS
    assert limit < 40
    sprayer = Client(REMOTE_ADDR="192.0.2.66")
    answers = [
        sign_in_as(sprayer, f"user{i}", "Summer2024!", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        for i in range(40)
    ]
    checked = [r for r in answers if r.status_code == 200]
    assert len(checked) == limit - 1  # the limit-th failure starts the pause
    assert all(r.status_code == 429 for r in answers[limit - 1 :])
    # A real user's right password from that address is refused too, during the pause...
    assert sign_in(sprayer, "analyst", PASSWORD).status_code == 429
    # ...but the same user signs in from their own address.
    assert sign_in(Client(REMOTE_ADDR="192.0.2.7"), "analyst", PASSWORD).status_code == 302


def test_an_attacker_elsewhere_cannot_lock_a_user_out(personas):
    """Issue 9, item 3: anyone could lock any named account for 30 minutes."""
    attacker = Client(REMOTE_ADDR="192.0.2.66")
    for i in range(30):
        sign_in(attacker, "analyst", f"wrong {i}")
    assert sign_in(attacker, "analyst", PASSWORD).status_code == 429
    victim = Client(REMOTE_ADDR="192.0.2.7")
    response = sign_in(victim, "analyst", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("core:second_factor")


def test_a_success_resets_only_that_username_from_that_address(personas):
    """Signing in to one's own account does not reset the address's count (a sprayer with an
    account of their own would)."""
    sprayer = Client(REMOTE_ADDR="192.0.2.66")
    limit = settings.CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS
    for i in range(limit - 1):
        assert sign_in(sprayer, f"user{i}", "Summer2024!").status_code == 200
    assert sign_in(sprayer, "councillor", PASSWORD).status_code == 302
    assert sign_in(Client(REMOTE_ADDR="192.0.2.66"), "user-x", "Summer2024!").status_code == 429


def test_a_session_ends_after_30_idle_minutes_and_after_10_hours_in_any_case(personas):
    client = Client()
    assert sign_in_fully(client, "analyst").status_code == 302
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
    sign_in_fully(client, "analyst")
    time.sleep(1.1)
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 302


def test_deactivating_a_user_ends_their_session_on_the_next_request(personas):
    client = Client()
    sign_in_fully(client, "analyst")
    personas["analyst"].is_active = False
    personas["analyst"].save()
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 302


def test_an_administrator_can_end_a_users_sessions(personas):
    client = Client()
    sign_in_fully(client, "analyst")
    assert services.user_sessions_end(personas["analyst"]) == 1
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 302


def test_sign_in_does_not_follow_a_next_address_to_another_site(personas):
    response = sign_in_fully(Client(), "analyst", next_url="https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/"
    response = Client().post(
        SIGN_IN + "?next=//evil.example/", {"username": "nobody", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.parametrize("next_url", ["foo", "hub:hub", "admin:index", "javascript:alert(1)"])
def test_a_next_that_is_not_a_path_goes_home_not_to_a_server_error(personas, next_url):
    """Issue 9, item 6: /sign-in/?next=foo with the right password was an HTTP 500."""
    response = Client().post(
        SIGN_IN + f"?next={next_url}", {"username": "nobody", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    response = sign_in_fully(Client(), "analyst", next_url=next_url)
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_next_path_is_followed_after_both_steps(personas):
    path = reverse("hub:wards", args=[MIDDLESBROUGH])
    response = sign_in_fully(Client(), "analyst", next_url=path)
    assert response.status_code == 302 and response["Location"] == path


SOME_UUID = "5d0e8f7a-3c1b-4e2a-9f6d-0a1b2c3d4e5f"


def _address(name: str) -> str:
    here = {"partnership": MIDDLESBROUGH}
    for kwargs in (
        {},
        here,
        {**here, "code": "E05001497"},
        {**here, "member_id": 1},
        {**here, "target_type": "area", "target_id": "E05001497"},
        {"uidb64": "MQ", "token": "not-a-token"},
        # records named by a random public id (a 404 once signed in; anonymous: the sign-in)
        {**here, "plan": SOME_UUID},
        {**here, "plan": SOME_UUID, "fmt": "xlsx"},
        {**here, "action": SOME_UUID},
        {**here, "indicator": SOME_UUID},
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
        client = VerifiedClient()  # signed in with both steps
        client.force_login(personas["administrator"])
        pages.append((name, client.get(_address(name))))
    anonymous = Client()
    pages += [
        ("sign-in, anonymous", anonymous.get(SIGN_IN)),
        ("redirect to sign-in", anonymous.get(reverse("hub:hub", args=[MIDDLESBROUGH]))),
        ("admin sign-in", anonymous.get("/admin/login/")),
    ]
    councillor = VerifiedClient()
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
