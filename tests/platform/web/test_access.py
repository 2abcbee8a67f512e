"""The access matrix: every partnership page and endpoint, for every role, an outsider,
a user with no membership and an anonymous visitor (docs/access-control.md)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from csp_platform.core.permissions import ROLE_PERMISSIONS, Perm
from tests.platform.web.conftest import HARTLEPOOL_WARD, MIDDLEHAVEN, MIDDLESBROUGH, ROLE_OF
from tests.platform.web.conftest import VerifiedClient as Client

PERIODS = "from=2019-01&to=2019-02&baseline_from=2018-11&baseline_to=2018-12"
# Every partnership-scoped view: (URL name, extra URL kwargs, permission it needs, query).
CASES: list[tuple[str, dict[str, str], Perm, str]] = [
    ("hub:hub", {}, Perm.VIEW_AGGREGATES, ""),
    ("hub:map_data", {}, Perm.VIEW_AGGREGATES, ""),
    ("hub:trend_data", {}, Perm.VIEW_AGGREGATES, ""),
    ("hub:points_data", {}, Perm.VIEW_POINTS, ""),
    ("hub:hotspots_data", {}, Perm.VIEW_HOTSPOTS, "from=2019-02&to=2019-02"),
    ("hub:export_wards", {}, Perm.EXPORT_AGGREGATES, ""),
    ("hub:export_trend", {}, Perm.EXPORT_AGGREGATES, ""),
    ("hub:export_categories", {}, Perm.EXPORT_AGGREGATES, ""),
    ("hub:export_points", {}, Perm.EXPORT_POINTS, ""),
    ("hub:wards", {}, Perm.VIEW_AGGREGATES, ""),
    ("hub:ward", {"code": MIDDLEHAVEN}, Perm.VIEW_AGGREGATES, PERIODS),
    ("hub:sia", {}, Perm.VIEW_AGGREGATES, PERIODS),
    ("hub:export_sia", {}, Perm.EXPORT_AGGREGATES, PERIODS),
    ("hub:forecast", {}, Perm.VIEW_FORECAST, ""),
    ("incidents:data", {}, Perm.VIEW_DATA, ""),
    ("incidents:upload", {}, Perm.IMPORT_DATA, ""),
]
VISITORS = [*ROLE_OF, "no_membership", "anonymous"]


def url(name: str, kwargs: dict[str, str], query: str, partnership: str = MIDDLESBROUGH) -> str:
    path = reverse(name, kwargs={"partnership": partnership, **kwargs})
    return f"{path}?{query}" if query else path


def expected_status(visitor: str, perm: Perm) -> int:
    if visitor == "anonymous":
        return 302
    if visitor in ("outsider", "no_membership"):
        return 404
    return 200 if perm in ROLE_PERMISSIONS[ROLE_OF[visitor]] else 403


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("name, kwargs, perm, query", CASES, ids=[c[0] for c in CASES])
def test_access_matrix(personas, name, kwargs, perm, query, visitor):
    client = Client()
    if visitor != "anonymous":
        client.force_login(personas[visitor])
    response = client.get(url(name, kwargs, query))
    assert response.status_code == expected_status(visitor, perm), response.content[:500]
    if visitor == "anonymous":
        assert response["Location"].startswith(reverse("core:sign_in") + "?next=")


def test_the_matrix_covers_every_partnership_view_with_the_permission_it_declares():
    from django.urls import get_resolver

    from tests.platform.test_conventions import walk

    declared = {
        name: pattern.callback.access_rule
        for name, pattern in walk(get_resolver())
        if isinstance(getattr(pattern.callback, "access_rule", None), Perm)
    }
    assert declared == {name: perm for name, _, perm, _ in CASES}


def test_an_outsider_gets_404_for_a_ward_or_area_of_another_partnership(personas):
    client = Client()
    client.force_login(personas["analyst"])
    ward_elsewhere = reverse("hub:ward", args=[MIDDLESBROUGH, HARTLEPOOL_WARD])
    assert client.get(ward_elsewhere).status_code == 404
    assert (
        client.get(reverse("hub:hub", args=[MIDDLESBROUGH]), {"area": HARTLEPOOL_WARD}).status_code
        == 404
    )
    assert (
        client.get(reverse("hub:map_data", args=[MIDDLESBROUGH]), {"area": "E06000001"}).status_code
        == 404
    )
    # and the outsider's own partnership does not open Middlesbrough's wards either
    client.force_login(personas["outsider"])
    assert client.get(reverse("hub:ward", args=["hartlepool", MIDDLEHAVEN])).status_code == 404
    assert (
        client.get(
            reverse("hub:ward", args=["hartlepool", HARTLEPOOL_WARD]),
            {"from": "2019-01", "to": "2019-02"},
        ).status_code
        == 200
    )


def test_an_unknown_partnership_looks_the_same_as_someone_elses(personas):
    client = Client()
    client.force_login(personas["analyst"])
    assert client.get("/p/no-such-partnership/").status_code == 404
    assert client.get("/p/hartlepool/").status_code == 404


def test_a_membership_removed_takes_effect_on_the_next_request(personas):
    client = Client()
    client.force_login(personas["analyst"])
    hub = reverse("hub:hub", args=[MIDDLESBROUGH])
    assert client.get(hub).status_code == 200
    personas["analyst"].memberships.all().delete()
    assert client.get(hub).status_code == 404


def test_a_signed_in_member_of_one_partnership_goes_straight_to_its_hub(personas):
    client = Client()
    client.force_login(personas["councillor"])
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse(
        "hub:hub", args=[MIDDLESBROUGH]
    )
    client.force_login(personas["no_membership"])
    assert b"not a member of any partnership" in client.get("/").content
