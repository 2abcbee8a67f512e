"""Security events as JSON lines, no caching of signed-in responses, and changing one's own
password (issue 9, item 6)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.urls import reverse

from csp_platform.core.security_log import JsonLines
from tests.platform.web.conftest import MIDDLESBROUGH, PASSWORD
from tests.platform.web.conftest import VerifiedClient as Client

FORGED = 'x", "event": "sign-in", "username": "administrator'


@pytest.fixture
def security_lines() -> Iterator[io.StringIO]:
    """What the csp.security logger writes, through the formatter the settings give it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("csp.security")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def _events(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_settings_give_the_security_logger_the_json_formatter():
    handlers = logging.getLogger("csp.security").handlers
    assert any(isinstance(h.formatter, JsonLines) for h in handlers)


def test_a_line_feed_in_a_username_cannot_forge_a_log_line(personas, security_lines):
    """Issue 9, item 6: a user name holding a line feed and a fake record."""
    username = "nobody\n" + '{"event": "sign-in", "username": "administrator"}'
    Client().post("/sign-in/", {"username": username, "password": "wrong"})
    Client().post("/sign-in/", {"username": FORGED, "password": "wrong"})
    lines = security_lines.getvalue().splitlines()
    events = _events(security_lines)  # every line is one whole JSON object
    assert len(lines) == 2
    assert [e["event"] for e in events] == ["sign-in failed", "sign-in failed"]
    assert events[0]["username"] == username and events[1]["username"] == FORGED


def test_every_success_failure_and_pause_is_logged(personas, security_lines):
    client = Client(REMOTE_ADDR="192.0.2.9")
    for i in range(6):
        client.post("/sign-in/", {"username": "councillor", "password": f"wrong {i}"})
    client.post("/sign-in/", {"username": "councillor", "password": PASSWORD})
    Client(REMOTE_ADDR="192.0.2.10").post(
        "/sign-in/", {"username": "councillor", "password": PASSWORD}
    )
    events = _events(security_lines)
    assert [e["event"] for e in events] == ["sign-in failed"] * 5 + ["sign-in paused"] * 2 + [
        "sign-in"
    ]
    assert all(e["username"] == "councillor" for e in events)
    assert [e["ip"] for e in events] == ["192.0.2.9"] * 7 + ["192.0.2.10"]
    assert all(e["level"] == "WARNING" for e in events[:-1]) and events[-1]["level"] == "INFO"


def test_a_cross_partnership_404_is_a_security_event(personas, security_lines):
    client = Client()
    client.force_login(personas["outsider"])  # an analyst of Hartlepool
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 404
    assert client.get(reverse("hub:points_data", args=[MIDDLESBROUGH])).status_code == 404
    events = _events(security_lines)
    assert [(e["event"], e["username"], e["partnership"]) for e in events] == [
        ("partnership refused (not a member)", "outsider", MIDDLESBROUGH)
    ] * 2


@pytest.mark.parametrize(
    "name",
    ["hub:hub", "hub:map_data", "hub:points_data", "hub:export_wards", "hub:export_points"],
)
def test_signed_in_responses_are_not_stored(personas, name):
    client = Client()
    client.force_login(personas["analyst"])
    response = client.get(reverse(name, args=[MIDDLESBROUGH]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_users_change_their_own_password(personas, security_lines):
    client = Client()
    client.force_login(personas["councillor"])
    page = reverse("core:password_change")
    assert client.get(page).status_code == 200
    refused = client.post(
        page, {"old_password": "not it", "new_password1": "x", "new_password2": "x"}
    )
    assert refused.status_code == 200 and b"There is a problem" in refused.content
    new = "a new and longer passphrase 2025"
    done = client.post(
        page, {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert done.status_code == 200 and b"Your password has been changed" in done.content
    assert client.get(reverse("hub:hub", args=[MIDDLESBROUGH])).status_code == 200  # still in
    personas["councillor"].refresh_from_db()
    assert personas["councillor"].check_password(new)
    assert [e["event"] for e in _events(security_lines)] == [
        "password change refused",
        "password changed",
    ]
    assert Client().post("/sign-in/", {"username": "councillor", "password": new}).status_code == 302
