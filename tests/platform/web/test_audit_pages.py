"""Every point-level read and every export of the hub is in the audit log; the audit pages
("who has seen this record", the audit search, agreements due for review) open for the
right people; behind the documented proxy the client's address is recorded."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from csp_platform.core import services
from csp_platform.core.models import AuditEvent, Organisation, Partnership
from tests.platform.web.conftest import (
    HARTLEPOOL_WARD,
    MIDDLEHAVEN,
    MIDDLESBROUGH,
    PASSWORD,
    client_for,
)
from tests.platform.web.conftest import VerifiedClient as Client

PERIODS = {"from": "2019-01", "to": "2019-02", "baseline_from": "2018-11", "baseline_to": "2018-12"}


def new_events(since: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=since).order_by("seq"))


def last_seq() -> int:
    last = AuditEvent.objects.order_by("-seq").first()
    return last.seq if last else 0


def hub(name: str, **kwargs: str) -> str:
    return reverse(name, kwargs={"partnership": MIDDLESBROUGH, **kwargs})


def test_every_point_read_and_export_is_an_audit_event(personas):
    analyst = client_for(personas, "analyst")
    start = last_seq()
    reads = [
        (hub("hub:points_data"), {"area": MIDDLEHAVEN}, ("consultation", "area", MIDDLEHAVEN)),
        (hub("hub:points_data"), {}, ("consultation", "partnership", MIDDLESBROUGH)),
        (
            hub("hub:points_data"),
            {"area": MIDDLEHAVEN, "category": "burglary"},
            ("consultation", "area", MIDDLEHAVEN),
        ),
        (hub("hub:ward", code=MIDDLEHAVEN), PERIODS, ("consultation", "area", MIDDLEHAVEN)),
        (hub("hub:sia"), {**PERIODS, "area": MIDDLEHAVEN}, ("consultation", "area", MIDDLEHAVEN)),
        (hub("hub:export_points"), {"area": MIDDLEHAVEN}, ("disclosure", "area", MIDDLEHAVEN)),
        (hub("hub:export_wards"), {}, ("disclosure", "partnership", MIDDLESBROUGH)),
        (hub("hub:export_trend"), {"area": MIDDLEHAVEN}, ("disclosure", "area", MIDDLEHAVEN)),
        (
            hub("hub:export_sia"),
            {**PERIODS, "area": MIDDLEHAVEN},
            ("disclosure", "area", MIDDLEHAVEN),
        ),
    ]
    for path, query, _ in reads:
        assert analyst.get(path, query).status_code == 200, path
    events = new_events(start)
    assert [(e.action, e.target_type, e.target_id) for e in events] == [r[2] for r in reads]
    assert {(e.actor, e.role, e.organisation, e.partnership) for e in events} == {
        ("analyst", "analyst", "Cleveland Police", MIDDLESBROUGH)
    }
    assert [e.route.split("?")[0] for e in events] == [r[0] for r in reads]
    points = analyst.get(hub("hub:points_data"), {"area": MIDDLEHAVEN}).json()["points"]
    assert new_events(start)[-1].detail["points"] == len(points) > 0


def test_aggregate_pages_and_refused_requests_write_no_point_event(personas):
    start = last_seq()
    councillor = client_for(personas, "councillor")
    assert councillor.get(hub("hub:ward", code=MIDDLEHAVEN), PERIODS).status_code == 200
    assert councillor.get(hub("hub:points_data")).status_code == 403
    assert councillor.get(hub("hub:export_points")).status_code == 403
    assert client_for(personas, "outsider").get(hub("hub:points_data")).status_code == 404
    assert client_for(personas, "analyst").get(hub("hub:map_data")).status_code == 200
    assert new_events(start) == []


@pytest.mark.parametrize(
    "proxies, expected", [([], "127.0.0.1"), (["127.0.0.1", "::1"], "203.0.113.9")]
)
def test_behind_the_documented_proxy_the_clients_address_is_recorded(personas, proxies, expected):
    """Issue 9.5: behind the proxy every export was recorded from 127.0.0.1."""
    analyst = client_for(personas, "analyst")
    headers = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9"}
    with override_settings(CSP_TRUSTED_PROXIES=proxies):
        analyst.get(hub("hub:export_wards"), **headers)
        analyst.get(hub("hub:points_data"), **headers)
    assert [e.ip for e in AuditEvent.objects.order_by("-seq")[:2]] == [expected, expected]


def test_who_has_seen_a_ward_lists_its_readers_for_its_owners_only(personas):
    client_for(personas, "officer").get(hub("hub:points_data"), {"area": MIDDLEHAVEN})
    client_for(personas, "analyst").get(hub("hub:export_points"), {"area": MIDDLEHAVEN})
    seen = hub("core:audit_seen", target_type="area", target_id=MIDDLEHAVEN)
    page = client_for(personas, "data_manager").get(seen)
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('<tr class="govuk-table__row" data-seq=') >= 2
    assert "officer" in body and "Consultation" in body and "to analyst (Cleveland Police)" in body
    auditor = client_for(personas, "auditor").get(seen)
    assert auditor.status_code == 200 and "officer" in auditor.content.decode()
    assert client_for(personas, "officer").get(seen).status_code == 403
    assert client_for(personas, "outsider").get(seen).status_code == 404
    elsewhere = hub("core:audit_seen", target_type="area", target_id=HARTLEPOOL_WARD)
    assert client_for(personas, "data_manager").get(elsewhere).status_code == 404
    unknown_type = hub("core:audit_seen", target_type="incidents.case", target_id="1")
    assert client_for(personas, "data_manager").get(unknown_type).status_code == 403


def test_the_auditor_searches_by_user_action_date_and_record(personas):
    client_for(personas, "officer").get(hub("hub:points_data"), {"area": MIDDLEHAVEN})
    client_for(personas, "analyst").get(hub("hub:export_wards"))
    auditor = client_for(personas, "auditor")
    today = timezone.localdate()
    search = hub("core:audit_search")
    found = auditor.get(search, {"user": "officer", "action": "consultation", "since": today})
    body = found.content.decode()
    assert found.status_code == 200 and "officer" in body and "to analyst" not in body
    officer_reads = AuditEvent.objects.filter(
        actor="officer", action="consultation", partnership=MIDDLESBROUGH
    ).count()
    assert f"{officer_reads} event" in body
    by_record = auditor.get(search, {"target_type": "partnership", "target_id": MIDDLESBROUGH})
    assert "to analyst (Cleveland Police)" in by_record.content.decode()
    tomorrow = today + timedelta(days=1)
    later = auditor.get(search, {"user": "officer", "since": tomorrow})
    assert "0 events found" in later.content.decode()
    bad = auditor.get(search, {"since": today, "until": today - timedelta(days=1)})
    assert bad.status_code == 400 and "on or after the start date" in bad.content.decode()
    searched = AuditEvent.objects.order_by("-seq").first()
    assert (searched.actor, searched.action, searched.target_type) == (
        "auditor",
        "consultation",
        "audit",
    )


def test_the_audit_search_shows_only_its_own_partnerships_events(personas):
    client_for(personas, "outsider").get(
        reverse("hub:points_data", args=["hartlepool"]), {"area": HARTLEPOOL_WARD}
    )
    body = client_for(personas, "auditor").get(hub("core:audit_search")).content.decode()
    assert "outsider" not in body


def test_the_manager_sees_the_agreements_due_for_review(personas):
    partnership = Partnership.objects.get(slug=MIDDLESBROUGH)
    parties = list(
        Organisation.objects.filter(slug__in=["cleveland-police", "middlesbrough-council"])
    )
    today = timezone.localdate()
    common = {
        "partnership": partnership,
        "parties": parties,
        "purposes": ["Strategic assessment"],
        "data_classes": ["incident_points"],
        "legal_bases": ["cda_1998_s115"],
        "conditions": ["uk_gdpr_6_1_e"],
        "status": "active",
        "start": date(2024, 1, 1),
    }
    services.isa_create(
        reference="isa-due", title="Due soon", review=today + timedelta(days=10), **common
    )
    services.isa_create(
        reference="isa-later", title="Not yet", review=today + timedelta(days=200), **common
    )
    page = client_for(personas, "manager").get(hub("core:agreements"))
    assert page.status_code == 200
    body = page.content.decode()
    due = body[body.index('id="due-for-review"') : body.index("All agreements")]
    assert "isa-due" in due and "isa-later" not in due
    assert "isa-later" in body


def test_sign_in_success_failure_and_sign_out_are_audit_events(personas):
    start = last_seq()
    client = Client()
    headers = {"REMOTE_ADDR": "192.0.2.44"}
    client.post(reverse("core:sign_in"), {"username": "officer", "password": "wrong"}, **headers)
    client.post(reverse("core:sign_in"), {"username": "nobody-here", "password": "x"}, **headers)
    client.post(reverse("core:sign_in"), {"username": "officer", "password": PASSWORD}, **headers)
    client.post(reverse("core:sign_out"), **headers)
    events = new_events(start)
    assert [(e.action, e.actor, e.ip) for e in events] == [
        ("sign_in_failed", "officer", "192.0.2.44"),
        ("sign_in_failed", "nobody-here", "192.0.2.44"),
        ("sign_in", "officer", "192.0.2.44"),
        ("sign_out", "officer", "192.0.2.44"),
    ]
    assert events[2].actor_id == personas["officer"].pk and events[0].actor_id is None
