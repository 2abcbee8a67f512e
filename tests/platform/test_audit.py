"""The audit log is append-only in the database itself, hash-chained, and verifiable.

Every attempt below goes past the application (queryset update/delete, raw SQL) and must be
refused by the database's triggers, on SQLite and on PostgreSQL. Tampering done by the
database owner (triggers lifted, as an attacker with the owner's rights would) is found by
``csp audit verify``.
"""

from __future__ import annotations

import json
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory, override_settings

from csp_platform.core import audit, services
from csp_platform.core.models import (
    AuditAction,
    AuditEvent,
    AuditHead,
    Organisation,
    Partnership,
    Role,
)
from tests.platform.conftest import CSP, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def membership():  # type: ignore[no-untyped-def]
    org = Organisation.objects.create(slug="test-police", name="Test Police")
    partnership = Partnership.objects.create(slug="test-csp", name="Test CSP")
    partnership.organisations.add(org)
    user = get_user_model().objects.create_user(username="alice", password="x" * 20)
    return services.membership_set(
        user=user, partnership=partnership, organisation=org, role=Role.ANALYST
    )


@pytest.fixture
def events(membership):  # type: ignore[no-untyped-def]
    """Three events on the chain (whatever was on it before stays)."""
    return [
        audit.record(
            action=AuditAction.CONSULTATION,
            actor=membership.user,
            membership=membership,
            target=("area", f"E0500000{i}"),
            detail={"points": i},
        )
        for i in range(3)
    ]


def refused(sql_or_call, params=()) -> str:  # type: ignore[no-untyped-def]
    """Run it in a savepoint; the database must refuse it. Returns the error text."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        if isinstance(sql_or_call, str):
            with connection.cursor() as cursor:
                cursor.execute(sql_or_call, params)
        else:
            sql_or_call()
    return str(caught.value)


def test_an_event_records_who_where_what_and_when_in_utc(membership):
    request = RequestFactory().get("/p/test-csp/points.json?area=E05000001", REMOTE_ADDR="10.1.2.3")
    request.user = membership.user
    request.membership = membership  # type: ignore[attr-defined]
    event = audit.record(
        action=AuditAction.CONSULTATION,
        request=request,
        target=("area", "E05000001"),
        purpose="tasking meeting",
    )
    event.refresh_from_db()
    assert (event.actor, event.actor_id, event.role, event.organisation, event.partnership) == (
        "alice",
        membership.user.pk,
        "analyst",
        "Test Police",
        "test-csp",
    )
    assert (event.route, event.ip, event.purpose) == (
        "/p/test-csp/points.json?area=E05000001",
        "10.1.2.3",
        "tasking meeting",
    )
    assert event.at.utcoffset().total_seconds() == 0
    assert audit.verify().ok


def test_queryset_update_and_delete_are_refused_by_the_database(events):
    assert "append-only" in refused(lambda: AuditEvent.objects.update(actor="mallory"))
    assert "append-only" in refused(lambda: AuditEvent.objects.filter(seq=events[0].seq).delete())
    qs = AuditEvent.objects.all()
    assert "append-only" in refused(lambda: qs._raw_delete(qs.db))
    event = AuditEvent.objects.get(pk=events[1].pk)
    event.actor = "mallory"
    assert "append-only" in refused(event.save)
    assert "append-only" in refused(event.delete)
    assert AuditEvent.objects.filter(actor="mallory").count() == 0
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 3


def test_raw_sql_update_delete_and_truncate_are_refused(events):
    pk = [events[0].pk]
    assert "append-only" in refused(
        "UPDATE core_auditevent SET actor = 'mallory' WHERE id = %s", pk
    )
    assert "append-only" in refused("DELETE FROM core_auditevent WHERE id = %s", pk)
    assert "append-only" in refused("DELETE FROM core_audithead")
    if connection.vendor == "postgresql":
        assert "append-only" in refused("TRUNCATE core_auditevent CASCADE")
    assert AuditEvent.objects.filter(pk=events[0].pk, actor="alice").exists()


def test_the_head_moves_only_forward_to_an_event_that_exists(events):
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)
    move = "UPDATE core_audithead SET seq = %s, hash = %s"
    assert "append-only" in refused(move, [head.seq - 1, events[-2].hash])  # back
    assert "append-only" in refused(move, [head.seq + 1, "f" * 64])  # to an invented event


def test_each_hash_covers_the_content_and_the_previous_hash(events):
    first, second = events[0], events[1]
    assert second.prev_hash == first.hash and second.seq == first.seq + 1
    row = AuditEvent.objects.filter(pk=second.pk).values(*audit.HASHED).get()
    assert audit.event_hash(row) == second.hash
    assert audit.event_hash({**row, "actor": "mallory"}) != second.hash
    assert audit.event_hash({**row, "prev_hash": "0" * 64}) != second.hash


def test_verify_finds_a_row_edited_behind_the_applications_back(events):
    assert audit.verify().ok
    with audit.triggers_lifted(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_auditevent SET actor = 'someone-else' WHERE id = %s", [events[1].pk]
        )
    result = audit.verify()
    assert result.problems == [f"row #{events[1].seq}: content does not match its hash (edited)"]
    with pytest.raises(CommandError, match="the log was changed"):
        call_command("csp_audit", "verify", stdout=StringIO(), stderr=StringIO())


def test_verify_finds_an_edit_that_rehashed_the_row(events):
    """An attacker who recomputes the edited row's hash breaks the next row's link."""
    row = AuditEvent.objects.filter(pk=events[1].pk).values(*audit.HASHED).get()
    forged = audit.event_hash({**row, "target_id": "E05999999"})
    with audit.triggers_lifted():
        AuditEvent.objects.filter(pk=events[1].pk).update(target_id="E05999999", hash=forged)
    assert audit.verify().problems == [
        f"row #{events[2].seq}: previous hash does not match row #{events[1].seq}"
    ]


def test_verify_finds_a_deleted_row_in_the_middle_and_at_the_end(events):
    with audit.triggers_lifted():
        AuditEvent.objects.filter(pk=events[1].pk).delete()
    assert audit.verify().problems == [f"row #{events[1].seq} missing (deleted)"]
    with audit.triggers_lifted():
        AuditEvent.objects.filter(pk=events[2].pk).delete()
    problems = audit.verify().problems
    assert problems == [
        f"the chain ends at row #{events[0].seq} but its head names row #{events[2].seq}"
        " (rows deleted from the end, or the head changed)"
    ]


def test_verify_reports_an_intact_chain(events):
    out = StringIO()
    call_command("csp_audit", "verify", stdout=out, stderr=StringIO())
    assert f"head #{events[-1].seq}" in out.getvalue() and "intact" in out.getvalue()


def test_deleting_a_partnership_or_user_changes_no_audit_row(membership, events):
    """Issue 9.5: deleting a partnership used to null its export records."""
    before = list(AuditEvent.objects.filter(pk__in=[e.pk for e in events]).values())
    user = membership.user
    membership.partnership.delete()
    user.delete()
    after = list(AuditEvent.objects.filter(pk__in=[e.pk for e in events]).values())
    assert after == before and after[0]["partnership"] == "test-csp"
    assert audit.verify().ok


@pytest.mark.parametrize(
    "proxies, remote, forwarded, expected",
    [
        ([], "10.0.0.5", "203.0.113.9", "10.0.0.5"),  # no proxy trusted: header ignored
        (["127.0.0.1"], "127.0.0.1", "203.0.113.9", "203.0.113.9"),
        (["127.0.0.1"], "127.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # spoofed left
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "203.0.113.9, 10.1.1.1", "203.0.113.9"),
        (["127.0.0.1"], "127.0.0.1", "", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "not-an-address", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        (["127.0.0.1"], "198.51.100.7", "203.0.113.9", "198.51.100.7"),  # not via the proxy
    ],
)
def test_the_client_address_behind_trusted_proxies(proxies, remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(CSP_TRUSTED_PROXIES=proxies):
        assert audit.client_address(request) == expected


APPEND = """
import sys
import django
django.setup()
from csp_platform.core import audit
for i in range(int(sys.argv[1])):
    audit.record(action="consultation", actor=f"writer-{sys.argv[2]}", target=("area", str(i)))
"""


def test_concurrent_appends_never_fork_the_chain(fresh_env: dict[str, str]) -> None:
    """Four processes append at once (a database of their own, the suite's engine): every
    event lands, in one unbroken chain."""
    run(fresh_env, "migrate", "-v0")
    env = {**fresh_env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"}
    writers = [
        subprocess.Popen([CSP[0], "-c", APPEND, "25", str(n)], env=env, stderr=subprocess.PIPE)
        for n in range(4)
    ]
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err.decode()
    out = run(fresh_env, "audit", "verify")
    assert "100 audit events checked; head #100" in out and "intact" in out


EXPORTS = """
import json, sys
import django
django.setup()
from django.db import connection
with connection.cursor() as c:
    c.execute("INSERT INTO core_partnership (slug, name) VALUES ('mb', 'Middlesbrough CSP')")
    c.execute("SELECT id FROM core_partnership")
    p = c.fetchone()[0]
    for i, (user, kind, area) in enumerate(json.loads(sys.argv[1])):
        c.execute(
            "INSERT INTO core_exportrecord (created_at, username, partnership_id, organisation,"
            " role, kind, point_level, parameters, rows, route, ip) VALUES"
            " (%s, %s, %s, 'Cleveland Police', 'analyst', %s, %s, %s, 7, '/p/mb/x.csv',"
            " '192.0.2.1')",
            [f"2026-01-0{i + 1} 10:00:00+00:00", user, p, kind, kind == "points",
             json.dumps({"area": area} if area else {})],
        )
"""
EVENTS = """
import json
import django
django.setup()
from csp_platform.core.models import AuditEvent
print(json.dumps(list(AuditEvent.objects.order_by("seq").values_list(
    "seq", "actor", "action", "partnership", "target_type", "target_id", "recipient", "ip",
    "detail"))))
"""


def test_export_records_move_onto_the_audit_chain(fresh_env: dict[str, str], tmp_path: Path):
    run(fresh_env, "migrate", "core", "0002", "-v0")
    rows = [["ann", "wards", "E05001497"], ["bob", "points", ""]]
    env = {**fresh_env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"}
    for code, args in ((EXPORTS, [json.dumps(rows)]), (EVENTS, [])):
        if code is EVENTS:
            run(fresh_env, "migrate", "-v0")
        done = subprocess.run(
            [CSP[0], "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)
    assert [e[:8] for e in events] == [
        [1, "ann", "disclosure", "mb", "area", "E05001497", "ann (Cleveland Police)", "192.0.2.1"],
        [2, "bob", "disclosure", "mb", "partnership", "mb", "bob (Cleveland Police)", "192.0.2.1"],
    ]
    assert events[1][8]["kind"] == "points" and events[1][8]["point_level"] is True
    assert events[0][8]["rows"] == 7
    assert "2 audit events checked; head #2" in run(fresh_env, "audit", "verify")


REVOKED = """
import json
import django
django.setup()
from django.db import DatabaseError, connection, transaction
from csp_platform.core import audit
audit.record(action="consultation", actor="setup", target=("area", "E1"))
tried = {}
with audit.triggers_lifted():  # the privileges alone must stop the application role
    for name, sql in [("update", "UPDATE core_auditevent SET actor = 'x'"),
                      ("delete", "DELETE FROM core_auditevent"),
                      ("truncate", "TRUNCATE core_auditevent"),
                      ("head", "DELETE FROM core_audithead")]:
        try:
            with transaction.atomic(), connection.cursor() as c:
                c.execute("SET LOCAL ROLE csp_app_test")
                c.execute(sql)
            tried[name] = "done"
        except DatabaseError as exc:
            tried[name] = "permission denied" if "permission denied" in str(exc) else str(exc)
print(json.dumps(tried))
"""


def test_revoked_privileges_stop_a_separate_application_role(fresh_env: dict[str, str]):
    """PostgreSQL: after `csp audit revoke --role R --commit` the role cannot change the log
    even with the triggers gone; SQLite has no roles and the command says so."""
    run(fresh_env, "migrate", "-v0")
    if "DATABASE_URL" not in fresh_env:
        done = subprocess.run(
            [*CSP, "audit", "revoke", "--role", "app"], env=fresh_env, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 1 and "roles exist only on PostgreSQL" in done.stderr
        return
    import psycopg

    with psycopg.connect(fresh_env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS csp_app_test")
        conn.execute("CREATE ROLE csp_app_test NOLOGIN")
        conn.execute("GRANT USAGE ON SCHEMA public TO csp_app_test")  # as a deployment would
        conn.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO csp_app_test")
    try:
        env = {**fresh_env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"}
        printed = run(fresh_env, "audit", "revoke", "--role", "csp_app_test")
        assert (
            "Dry run" in printed and "REVOKE UPDATE, DELETE, TRUNCATE ON core_auditevent" in printed
        )
        run(fresh_env, "audit", "revoke", "--role", "csp_app_test", "--commit")
        done = subprocess.run(
            [CSP[0], "-c", REVOKED], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == dict.fromkeys(
            ("update", "delete", "truncate", "head"), "permission denied"
        )
    finally:
        with psycopg.connect(fresh_env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("DROP OWNED BY csp_app_test")
            conn.execute("DROP ROLE IF EXISTS csp_app_test")


def test_the_audit_migrations_reverse_cleanly(fresh_env: dict[str, str]) -> None:
    run(fresh_env, "migrate", "-v0")
    run(fresh_env, "audit", "verify")
    run(fresh_env, "migrate", "core", "0002", "-v0")
    run(fresh_env, "migrate", "-v0")
    assert "0 audit events checked; head #0" in run(fresh_env, "audit", "verify")
