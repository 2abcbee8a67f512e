"""What the audit log costs: appends per second against the database's plain write floor,
and how fast ``csp audit verify`` walks the chain.

    .venv/bin/python benchmarks/bench_audit.py                       # SQLite, 2,000 events
    .venv/bin/python benchmarks/bench_audit.py --database-url postgresql://csp@127.0.0.1:54407/csp

On a fresh database (SQLite in a temporary ``CSP_VAR_DIR``; PostgreSQL: the URL of an empty
database, whose tables ``migrate`` creates), each of ``--events`` iterations is one transaction, as
a request makes it:

- **baseline**: one single-row INSERT and commit (a sign-in throttle row), the floor any
  audited request pays for a write;
- **audit.record**: one audit event (lock the head row, hash, insert, move the head);
- **verify**: ``audit.verify()`` over the whole chain.

Prints a table; nothing is asserted (timings belong here, not in unit tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default SQLite)")
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "csp_platform.settings"
    os.environ["CSP_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-audit-")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from csp_platform.core import audit
    from csp_platform.core.models import AuditAction, SignInThrottle

    call_command("migrate", verbosity=0)
    n = args.events

    start = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            SignInThrottle.objects.create(username=f"bench-{i}")
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    for i in range(n):
        audit.record(
            action=AuditAction.CONSULTATION,
            actor="bench",
            target=("area", f"E05{i:06d}"),
            detail={"layer": "points", "points": i},
        )
    record = time.perf_counter() - start

    start = time.perf_counter()
    result = audit.verify()
    verify = time.perf_counter() - start
    assert result.ok, result.problems

    engine = connection.vendor
    print(f"{'engine':<12}{'step':<28}{'events':>8}{'per second':>12}{'ms each':>10}")
    for step, seconds, count in (
        ("baseline insert + commit", baseline, n),
        ("audit.record", record, n),
        ("verify (whole chain)", verify, result.checked),
    ):
        print(
            f"{engine:<12}{step:<28}{count:>8}{count / seconds:>12,.0f}"
            f"{1000 * seconds / count:>10.2f}"
        )
    print(f"audit.record / baseline: {record / baseline:.2f}x", file=sys.stdout)
    SignInThrottle.objects.filter(username__startswith="bench-").delete()


if __name__ == "__main__":
    main()
