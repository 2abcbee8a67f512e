"""The access matrix: every partnership page and endpoint, for every role, an outsider,
a user with no membership and an anonymous visitor (docs/access-control.md)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from csp_platform.core.models import AuditAction, AuditEvent, Membership
from csp_platform.core.permissions import Perm
from csp_platform.incidents.models import ImportBatch
from tests.platform.web.conftest import HARTLEPOOL_WARD, MIDDLEHAVEN, MIDDLESBROUGH, ROLE_OF
from tests.platform.web.conftest import VerifiedClient as Client

PERIODS = "from=2019-01&to=2019-02&baseline_from=2018-11&baseline_to=2018-12"

# Who may open what, written out by hand from docs/access-control.md (not read from the
# code's ROLE_PERMISSIONS, so a wrong entry there fails here). Persona names as in conftest.
EVERY_ROLE = frozenset(
    {"analyst", "officer", "manager", "councillor", "data_manager", "administrator", "auditor"}
)
EXPORTERS = frozenset({"analyst", "manager", "councillor", "data_manager", "administrator"})
HOTSPOT_VIEWERS = frozenset({"analyst", "officer", "manager", "administrator"})
POINT_VIEWERS = frozenset({"analyst", "officer", "administrator"})
GET = ("GET",)
# Every partnership-scoped view: URL name -> (URL kwargs, query, methods it answers, the
# personas whose role may use it, the permission the view should declare).
VIEWS: dict[str, tuple[dict[str, str], str, tuple[str, ...], frozenset[str], Perm]] = {
    "hub:hub": ({}, "", GET, EVERY_ROLE, Perm.VIEW_AGGREGATES),
    "hub:map_data": ({}, "", GET, EVERY_ROLE, Perm.VIEW_AGGREGATES),
    "hub:trend_data": ({}, "", GET, EVERY_ROLE, Perm.VIEW_AGGREGATES),
    "hub:points_data": ({}, "", GET, POINT_VIEWERS, Perm.VIEW_POINTS),
    "hub:hotspots_data": (
        {}, "from=2019-02&to=2019-02", GET, HOTSPOT_VIEWERS, Perm.VIEW_HOTSPOTS
    ),
    "hub:export_wards": ({}, "", GET, EXPORTERS, Perm.EXPORT_AGGREGATES),
    "hub:export_trend": ({}, "", GET, EXPORTERS, Perm.EXPORT_AGGREGATES),
    "hub:export_categories": ({}, "", GET, EXPORTERS, Perm.EXPORT_AGGREGATES),
    "hub:export_points": ({}, "", GET, frozenset({"analyst", "administrator"}), Perm.EXPORT_POINTS),
    "hub:wards": ({}, "", GET, EVERY_ROLE, Perm.VIEW_AGGREGATES),
    "hub:ward": ({"code": MIDDLEHAVEN}, PERIODS, GET, EVERY_ROLE, Perm.VIEW_AGGREGATES),
    "hub:sia": ({}, PERIODS, GET, EVERY_ROLE, Perm.VIEW_AGGREGATES),
    "hub:export_sia": ({}, PERIODS, GET, EXPORTERS, Perm.EXPORT_AGGREGATES),
    "hub:forecast": ({}, "", GET, HOTSPOT_VIEWERS, Perm.VIEW_FORECAST),
    "incidents:data": (
        {}, "", GET, frozenset({"analyst", "data_manager", "administrator"}), Perm.VIEW_DATA
    ),
    "incidents:upload": (
        {}, "", ("GET", "POST"), frozenset({"data_manager", "administrator"}), Perm.IMPORT_DATA
    ),
    "core:audit_search": ({}, "action=disclosure", GET, frozenset({"auditor"}), Perm.VIEW_AUDIT),
    "core:audit_seen": (
        {"target_type": "area", "target_id": MIDDLEHAVEN}, "", GET,
        frozenset({"analyst", "data_manager", "administrator", "auditor"}), Perm.VIEW_ACCESS_LOG,
    ),
    "core:agreements": (
        {}, "", GET, frozenset({"manager", "administrator", "auditor"}), Perm.VIEW_AGREEMENTS
    ),
    "members:list": ({}, "", ("GET", "POST"), frozenset({"administrator"}), Perm.MANAGE_MEMBERS),
    # member_id: the Middlesbrough membership of the persona named (resolved in url())
    "members:change": (
        {"member_id": "councillor"}, "", ("GET", "POST"), frozenset({"administrator"}),
        Perm.MANAGE_MEMBERS,
    ),
    "members:remove": (
        {"member_id": "councillor"}, "", ("GET", "POST"), frozenset({"administrator"}),
        Perm.MANAGE_MEMBERS,
    ),
}  # fmt: skip
# What an empty POST gets from someone allowed (the add form refuses it, the change form
# shows itself again, a removal needs nothing).
POST_ANSWER = {"members:list": 400, "members:change": 200, "members:remove": 302}
VISITORS = [*ROLE_OF, "no_membership", "anonymous"]
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def url(name: str, kwargs: dict[str, str], query: str, partnership: str = MIDDLESBROUGH) -> str:
    if "member_id" in kwargs:
        member = Membership.objects.get(
            user__username=kwargs["member_id"], partnership__slug=MIDDLESBROUGH
        )
        kwargs = {**kwargs, "member_id": str(member.pk)}
    path = reverse(name, kwargs={"partnership": partnership, **kwargs})
    return f"{path}?{query}" if query else path


def expected_status(name: str, visitor: str, method: str) -> int:
    _, _, answers, allowed, _ = VIEWS[name]
    if visitor == "anonymous":
        return 302  # to the sign-in page, whatever the method
    # The upload checks the membership first, every other view the method first (a 405
    # says nothing about the partnership: an unknown one gets the same).
    if name != "incidents:upload" and method not in answers:
        return 405
    if visitor in ("outsider", "no_membership"):
        return 404
    if visitor not in allowed:
        return 403
    if method not in answers:
        return 405
    if method == "POST" and name in POST_ANSWER:
        return POST_ANSWER[name]
    return 200  # (an empty POST to the upload page shows the form again, imports nothing)


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("name", list(VIEWS))
def test_access_matrix(personas, name, visitor):
    kwargs, query, _, _, _ = VIEWS[name]
    client = Client()
    if visitor != "anonymous":
        client.force_login(personas[visitor])
    address = url(name, kwargs, query)
    exports_before = AuditEvent.objects.filter(action=AuditAction.DISCLOSURE).count()
    batches_before = ImportBatch.objects.count()
    for method in METHODS:
        response = getattr(client, method.lower())(address)
        expected = expected_status(name, visitor, method)
        assert response.status_code == expected, (method, response.content[:300])
        if visitor == "anonymous":
            assert response["Location"].startswith(reverse("core:sign_in") + "?next=")
    # a download is recorded once, for the one request that got it; a refusal records none
    downloaded = name.startswith("hub:export") and expected_status(name, visitor, "GET") == 200
    exports = AuditEvent.objects.filter(action=AuditAction.DISCLOSURE).count()
    assert exports - exports_before == int(downloaded)
    assert ImportBatch.objects.count() == batches_before


def test_the_matrix_covers_every_partnership_view_with_the_permission_it_declares():
    from django.urls import get_resolver

    from tests.platform.test_conventions import walk

    declared = {
        name: pattern.callback.access_rule
        for name, pattern in walk(get_resolver())
        if isinstance(getattr(pattern.callback, "access_rule", None), Perm)
    }
    assert declared == {name: view[4] for name, view in VIEWS.items()}


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
