"""The Members page: a partnership's administrator manages its members, and only its own."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from csp_platform.core.models import Membership, Organisation, Role
from tests.platform.web.conftest import MIDDLESBROUGH, PASSWORD
from tests.platform.web.test_ownership import client_for, member

MEMBERS = reverse("members:list", args=[MIDDLESBROUGH])


@pytest.fixture
def admin(personas) -> Client:
    return client_for(personas["administrator"])


def org(slug: str) -> int:
    return Organisation.objects.get(slug=slug).pk


def events(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "csp.security"]


def mbro(username: str) -> Membership:
    return Membership.objects.get(user__username=username, partnership__slug=MIDDLESBROUGH)


def test_the_list_shows_this_partnerships_members_only(admin):
    page = admin.get(MEMBERS).content.decode()
    for name in ("analyst", "officer", "councillor", "data_manager"):
        assert f'data-member="{name}"' in page
    assert 'data-member="outsider"' not in page  # Hartlepool's analyst


def test_add_an_existing_user_and_it_is_logged(admin, personas, caplog):
    with caplog.at_level(logging.INFO, logger="csp.security"):
        response = admin.post(
            MEMBERS,
            {
                "action": "add",
                "username": "outsider",
                "organisation": org("middlesbrough-council"),
                "role": Role.COUNCILLOR.value,
            },
        )
    assert response.status_code == 302
    assert mbro("outsider").role == Role.COUNCILLOR
    assert {
        "event": "member_added",
        "by": "administrator",
        "partnership": MIDDLESBROUGH,
        "user": "outsider",
        "after": {"role": "councillor", "organisation": "middlesbrough-council"},
    } in events(caplog)


def test_invite_a_new_user_with_a_one_time_set_password_link(admin, caplog):
    caplog.set_level(logging.INFO, logger="csp.security")
    response = admin.post(
        MEMBERS,
        {
            "action": "invite",
            "username": "new.analyst",
            "email": "new.analyst@example.org",
            "organisation": org("cleveland-police"),
            "role": Role.ANALYST.value,
        },
    )
    assert response.status_code == 200
    link = re.search(r'id="set-password-link">http://testserver([^<]+)<', response.content.decode())
    assert link, response.content.decode()[-3000:]
    user = get_user_model().objects.get(username="new.analyst")
    assert not user.has_usable_password() and mbro("new.analyst").role == Role.ANALYST
    visitor = Client()
    assert visitor.get(link[1]).status_code == 200
    weak = visitor.post(link[1], {"new_password1": "password", "new_password2": "password"})
    assert weak.status_code == 400  # Django's password validators apply
    done = visitor.post(link[1], {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 200 and b"Your password is set" in done.content
    assert visitor.login(username="new.analyst", password=PASSWORD)
    assert Client().get(link[1]).status_code == 404  # used once, never again
    assert {"event": "password_set_by_link", "user": "new.analyst"} in events(caplog)


def test_change_a_role_and_remove_a_member_are_logged_with_before_and_after(admin, caplog):
    councillor = mbro("councillor")
    change = reverse("members:change", args=[MIDDLESBROUGH, councillor.pk])
    with caplog.at_level(logging.INFO, logger="csp.security"):
        response = admin.post(
            change, {"organisation": org("cleveland-police"), "role": Role.ANALYST.value}
        )
        assert response.status_code == 302
        councillor.refresh_from_db()
        assert (councillor.role, councillor.organisation.slug) == ("analyst", "cleveland-police")
        remove = reverse("members:remove", args=[MIDDLESBROUGH, councillor.pk])
        assert admin.get(remove).status_code == 200
        assert admin.post(remove).status_code == 302
    assert not Membership.objects.filter(pk=councillor.pk).exists()
    assert get_user_model().objects.filter(username="councillor").exists()  # account stays
    logged = events(caplog)
    assert {
        "event": "member_changed",
        "by": "administrator",
        "partnership": MIDDLESBROUGH,
        "user": "councillor",
        "before": {"role": "councillor", "organisation": "middlesbrough-council"},
        "after": {"role": "analyst", "organisation": "cleveland-police"},
    } in logged
    assert any(e["event"] == "member_removed" and e["user"] == "councillor" for e in logged)


def test_an_administrator_of_another_partnership_cannot_touch_these_members(personas):
    """Redcar & Cleveland's administrator against Middlesbrough's members: 404 throughout."""
    redcar_admin = client_for(
        member("redcar-cleveland", "redcar-cleveland-council", Role.ADMINISTRATOR)
    )
    councillor = mbro("councillor")
    assert redcar_admin.get(MEMBERS).status_code == 404
    assert redcar_admin.post(MEMBERS, {"action": "add", "username": "x"}).status_code == 404
    # a Middlesbrough member's id under Redcar's own Members page is not found either
    for name in ("members:change", "members:remove"):
        path = reverse(name, args=["redcar-cleveland", councillor.pk])
        assert redcar_admin.get(path).status_code == 404
        response = redcar_admin.post(
            path, {"organisation": org("redcar-cleveland-council"), "role": "administrator"}
        )
        assert response.status_code == 404
    councillor.refresh_from_db()
    assert councillor.role == Role.COUNCILLOR and councillor.partnership.slug == MIDDLESBROUGH


def test_the_organisation_must_be_one_of_the_partnerships(admin):
    response = admin.post(
        MEMBERS,
        {
            "action": "add",
            "username": "outsider",
            "organisation": org("hartlepool-council"),
            "role": Role.ANALYST.value,
        },
    )
    assert response.status_code == 400
    assert not Membership.objects.filter(
        user__username="outsider", partnership__slug=MIDDLESBROUGH
    ).exists()


def test_administrators_cannot_change_or_remove_themselves(admin):
    me = mbro("administrator")
    change = reverse("members:change", args=[MIDDLESBROUGH, me.pk])
    response = admin.post(
        change, {"organisation": org("middlesbrough-council"), "role": Role.COUNCILLOR.value}
    )
    assert response.status_code == 400 and b"your own role" in response.content
    response = admin.post(reverse("members:remove", args=[MIDDLESBROUGH, me.pk]))
    assert response.status_code == 400 and b"cannot remove yourself" in response.content
    me.refresh_from_db()
    assert me.role == Role.ADMINISTRATOR


def test_adding_an_unknown_user_says_to_invite_them(admin):
    response = admin.post(
        MEMBERS,
        {
            "action": "add",
            "username": "nobody-by-this-name",
            "organisation": org("middlesbrough-council"),
            "role": Role.ANALYST.value,
        },
    )
    assert response.status_code == 400 and b"invite them instead" in response.content
