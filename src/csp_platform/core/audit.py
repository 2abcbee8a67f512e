"""Audit by construction: one append-only, hash-chained table of who did what to which data.

Services call :func:`record` in the same transaction as the change they make, and the
access-checked reads of restricted data call it for every read (docs/audit.md). The table
refuses UPDATE and DELETE in the database itself (triggers on both engines, migration 0004;
:data:`TRIGGERS`), and each row's ``hash`` covers its content and the previous row's hash, so
``csp audit verify`` (:func:`verify`) finds a row edited or deleted behind the application's
back. Appends are serialised by locking the one :class:`~csp_platform.core.models.AuditHead`
row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write lock, taken at the start of
every transaction by ``transaction_mode=IMMEDIATE``), and ``seq`` is unique, so two appends
can never fork the chain.

:func:`client_address` is the one place a client's address is read from a request: behind a
trusted proxy (``CSP_TRUSTED_PROXIES``) it is taken from ``X-Forwarded-For``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest
from django.utils import timezone

from csp_platform.core.models import AuditAction, AuditEvent, AuditHead, Membership

GENESIS = "0" * 64
Action = AuditAction
Target = models.Model | tuple[str, str] | None


class AuditChainBroken(RuntimeError):
    """The chain's head row is missing while events exist: someone removed it."""


# ----------------------------------------------------------------------------------------
# The client's address


def _networks(
    entries: list[str],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()]


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(request: HttpRequest) -> str | None:
    """The address of the client that made the request, for the audit and security logs.

    ``REMOTE_ADDR`` unless it is one of ``CSP_TRUSTED_PROXIES``; then ``X-Forwarded-For``
    is read right to left, each trusted hop skipped, and the first address that is not a
    trusted proxy is the client's. Entries left of it were written by the client and are
    ignored (anyone can send the header). A malformed entry stops the walk at the last
    trusted hop that passed it on, never at the text the client wrote.
    """
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    trusted = _networks(settings.CSP_TRUSTED_PROXIES)

    def is_trusted(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(a.version == n.version and a in n for n in trusted)

    client = remote
    if is_trusted(remote):
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        for hop in reversed([h for h in hops if h.strip()]):
            address = _parse(hop)
            if address is None:
                break
            client = address
            if not is_trusted(address):
                break
    return str(client)


# ----------------------------------------------------------------------------------------
# Recording


HASHED = (
    "seq", "at", "actor_id", "actor", "partnership_id", "partnership", "organisation", "role",
    "action", "target_type", "target_id", "recipient", "before", "after", "detail", "purpose",
    "route", "ip", "prev_hash",
)  # fmt: skip


def _canonical(value: Any) -> Any:
    """A value as the database gives it back: JSON-native types only."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def event_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of a row's :data:`HASHED` fields (including the previous row's hash) as
    canonical JSON. Never change this: it must verify every row ever written."""
    content = {name: row[name] for name in HASHED}
    at = content["at"]
    content["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _target(target: Target) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, tuple):
        return target[0], str(target[1])
    meta = target._meta
    return f"{meta.app_label}.{meta.model_name}", str(target.pk)


def _who(actor: Any, membership: Membership | None) -> dict[str, Any]:
    who: dict[str, Any] = {"actor_id": None, "actor": ""}
    if actor is not None and getattr(actor, "is_authenticated", False):
        who = {"actor_id": actor.pk, "actor": actor.get_username()}
    elif isinstance(actor, str):
        who["actor"] = actor[:150]
    if membership is not None:
        who.update(
            partnership_id=membership.partnership_id,
            partnership=membership.partnership.slug,
            organisation=membership.organisation.name,
            role=membership.role,
        )
    return who


def _head_locked() -> AuditHead:
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        if AuditEvent.objects.exists():
            raise AuditChainBroken("the audit chain's head row is missing: run `csp audit verify`")
        head = AuditHead.objects.create(pk=1, seq=0, hash=GENESIS)
    return head


def record(
    *,
    action: AuditAction,
    actor: Any = None,
    membership: Membership | None = None,
    request: HttpRequest | None = None,
    target: Target = None,
    before: Any = None,
    after: Any = None,
    recipient: str = "",
    purpose: str = "",
    detail: Mapping[str, Any] | None = None,
    partnership: Any = None,
) -> AuditEvent:
    """Append one event to the audit chain and return it.

    ``actor`` is a user (or, for the command line, a short description); ``membership``
    gives the partnership, organisation and role (taken from ``request.membership`` when
    the request has one); ``request`` gives the route and the client's address; ``target``
    is a model instance or a ``(type, id)`` pair. Call it inside the service's transaction,
    so the event and the change are committed together or not at all. ``partnership``
    scopes an event of a job with no membership (a scheduled digest) to a partnership.
    """
    if request is not None:
        actor = actor if actor is not None else request.user
        membership = membership or getattr(request, "membership", None)
    target_type, target_id = _target(target)
    row: dict[str, Any] = {
        "partnership_id": None,
        "partnership": "",
        "organisation": "",
        "role": "",
    }
    row.update(_who(actor, membership))
    if membership is None and partnership is not None:
        row.update(partnership_id=partnership.pk, partnership=partnership.slug)
    row.update(
        at=timezone.now().astimezone(UTC),
        action=AuditAction(action).value,
        target_type=target_type[:60],
        target_id=target_id[:120],
        recipient=recipient[:300],
        before=_canonical(before),
        after=_canonical(after),
        detail=_canonical(dict(detail or {})),
        purpose=purpose[:500],
        route=request.get_full_path()[:500] if request is not None else "",
        ip=client_address(request) if request is not None else None,
    )
    with transaction.atomic():
        head = _head_locked()
        row.update(seq=head.seq + 1, prev_hash=head.hash)
        event = AuditEvent.objects.create(**row, hash=event_hash(row))
        AuditHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash)
    return event


# ----------------------------------------------------------------------------------------
# Verifying


@dataclass
class Verification:
    """What ``csp audit verify`` found: rows checked, the head, and every problem."""

    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    more: int = 0  # problems found beyond the first MAX_PROBLEMS (not listed)

    MAX_PROBLEMS = 1000

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more += 1


def verify(*, chunk: int = 2000) -> Verification:
    """Walk the chain from the first row: every ``seq`` present and in order, every
    ``prev_hash`` equal to the previous row's hash, every ``hash`` equal to the row's content
    hashed again, and the head naming the last row. Reads in chunks (bounded memory)."""
    result = Verification()
    prev_seq, prev_hash = 0, GENESIS
    rows = AuditEvent.objects.order_by("seq").values(*HASHED, "hash")
    for row in rows.iterator(chunk_size=chunk):
        result.checked += 1
        seq = row["seq"]
        if seq != prev_seq + 1:
            gap = f"#{prev_seq + 1}" if seq == prev_seq + 2 else f"#{prev_seq + 1}-#{seq - 1}"
            result.add(f"row {gap} missing (deleted)")
        elif row["prev_hash"] != prev_hash:
            result.add(f"row #{seq}: previous hash does not match row #{prev_seq}")
        if event_hash(row) != row["hash"]:
            result.add(f"row #{seq}: content does not match its hash (edited)")
        prev_seq, prev_hash = seq, row["hash"]
    head = AuditHead.objects.filter(pk=1).first()
    if head is None:
        if result.checked:
            result.add("the chain's head row is missing (deleted)")
        return result
    result.head_seq, result.head_hash = head.seq, head.hash
    if (head.seq, head.hash) != (prev_seq, prev_hash):
        result.add(
            f"the chain ends at row #{prev_seq} but its head names row #{head.seq}"
            " (rows deleted from the end, or the head changed)"
        )
    return result


# ----------------------------------------------------------------------------------------
# Who may see who has seen a record: the owners of each kind of target

Owner = Callable[[Membership, str], bool]
OWNERS: dict[str, Owner] = {}


def owner(target_type: str) -> Callable[[Owner], Owner]:
    """Declare who owns records of ``target_type`` (beside the model, or in its app): the
    function answers whether a membership is an owner of the record with that id, and so
    may see "who has seen this record"."""

    def register(fn: Owner) -> Owner:
        OWNERS[target_type] = fn
        return fn

    return register


def is_owner(membership: Membership, target_type: str, target_id: str) -> bool:
    check = OWNERS.get(target_type)
    return bool(check and check(membership, target_id))


# ----------------------------------------------------------------------------------------
# The triggers that make the tables append-only (created by migration 0004)

_SQLITE_ABORT = "BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
_HEAD_MOVES = (
    "NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 OR NOT EXISTS (SELECT 1 FROM core_auditevent"
    " WHERE seq = NEW.seq AND hash = NEW.hash)"
)
TRIGGERS: dict[str, tuple[list[str], list[str]]] = {
    # vendor: (create statements, drop statements)
    "sqlite": (
        [
            "CREATE TRIGGER core_auditevent_no_update BEFORE UPDATE ON core_auditevent "
            + _SQLITE_ABORT.format(table="core_auditevent", op="UPDATE"),
            "CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent "
            + _SQLITE_ABORT.format(table="core_auditevent", op="DELETE"),
            "CREATE TRIGGER core_audithead_no_delete BEFORE DELETE ON core_audithead "
            + _SQLITE_ABORT.format(table="core_audithead", op="DELETE"),
            f"CREATE TRIGGER core_audithead_forward BEFORE UPDATE ON core_audithead WHEN "
            f"{_HEAD_MOVES} "
            + _SQLITE_ABORT.format(table="core_audithead", op="UPDATE but to the next event"),
        ],
        [
            f"DROP TRIGGER IF EXISTS {name}"
            for name in (
                "core_auditevent_no_update",
                "core_auditevent_no_delete",
                "core_audithead_no_delete",
                "core_audithead_forward",
            )
        ],
    ),
    "postgresql": (
        [
            "CREATE OR REPLACE FUNCTION csp_audit_append_only() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP"
            " USING ERRCODE = 'insufficient_privilege'; END $$",
            "CREATE OR REPLACE FUNCTION csp_audit_head_forward() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN IF {_HEAD_MOVES} THEN RAISE EXCEPTION 'core_audithead is"
            " append-only: UPDATE but to the next event refused' USING ERRCODE ="
            " 'insufficient_privilege'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON"
            " core_auditevent FOR EACH ROW EXECUTE FUNCTION csp_audit_append_only()",
            "CREATE TRIGGER core_auditevent_no_truncate BEFORE TRUNCATE ON core_auditevent"
            " FOR EACH STATEMENT EXECUTE FUNCTION csp_audit_append_only()",
            "CREATE TRIGGER core_audithead_no_delete BEFORE DELETE ON core_audithead"
            " FOR EACH ROW EXECUTE FUNCTION csp_audit_append_only()",
            "CREATE TRIGGER core_audithead_no_truncate BEFORE TRUNCATE ON core_audithead"
            " FOR EACH STATEMENT EXECUTE FUNCTION csp_audit_append_only()",
            "CREATE TRIGGER core_audithead_forward BEFORE UPDATE ON core_audithead"
            " FOR EACH ROW EXECUTE FUNCTION csp_audit_head_forward()",
        ],
        [
            "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent",
            "DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent",
            "DROP TRIGGER IF EXISTS core_audithead_no_delete ON core_audithead",
            "DROP TRIGGER IF EXISTS core_audithead_no_truncate ON core_audithead",
            "DROP TRIGGER IF EXISTS core_audithead_forward ON core_audithead",
            "DROP FUNCTION IF EXISTS csp_audit_head_forward()",
            "DROP FUNCTION IF EXISTS csp_audit_append_only()",
        ],
    ),
}


def triggers_create(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for sql in TRIGGERS[connection.vendor][0]:
            cursor.execute(sql)


def triggers_drop(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for sql in TRIGGERS[connection.vendor][1]:
            cursor.execute(sql)


@contextmanager
def triggers_lifted(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """The triggers dropped for the block and created again after it, in one transaction.

    For the database owner only: the test suite's flush between tests, and the tamper
    tests. The application never calls it."""
    connection = connections[using]
    with transaction.atomic(using=using):
        triggers_drop(connection)
        yield
        triggers_create(connection)


def revoke_sql(role: str) -> list[str]:
    """PostgreSQL: what to revoke from a separate application role (docs/audit.md)."""
    name = connections[DEFAULT_DB_ALIAS].ops.quote_name(role)
    return [
        f"REVOKE UPDATE, DELETE, TRUNCATE ON core_auditevent FROM {name}",
        f"REVOKE DELETE, TRUNCATE ON core_audithead FROM {name}",
    ]
