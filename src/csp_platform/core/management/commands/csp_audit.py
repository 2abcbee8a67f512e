"""csp audit verify | csp audit revoke --role NAME [--commit]: check the audit chain, or
take UPDATE/DELETE/TRUNCATE on the audit tables away from a PostgreSQL application role."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from csp_platform.core import audit
from csp_platform.core.commands import CspCommand


class Command(CspCommand):
    help = (
        "verify: walk the audit log's hash chain and report every row edited or deleted "
        "behind the application's back (exit code 1 if any). revoke --role NAME: the "
        "PostgreSQL REVOKE statements for a separate application role (run with --commit "
        "as the tables' owner)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        sub.add_parser("verify", help="check the hash chain")
        revoke = sub.add_parser("revoke", help="revoke changes to the audit tables from a role")
        revoke.add_argument("--role", required=True, help="the application's database role")
        revoke.add_argument("--commit", action="store_true", help="run the statements")

    def run(self, **o: Any) -> None:
        if o["what"] == "verify":
            self._verify()
        else:
            self._revoke(o["role"], commit=o["commit"])

    def _verify(self) -> None:
        result = audit.verify()
        for problem in result.problems:
            self.stderr.write(f"audit: {problem}")
        if result.more:
            self.stderr.write(f"audit: ... and {result.more} more problems")
        summary = (
            f"{result.checked} audit events checked; head #{result.head_seq} "
            f"{result.head_hash[:16]}"
        )
        if not result.ok:
            count = len(result.problems) + result.more
            raise CommandError(f"{summary}; {count} problem(s): the log was changed")
        self.stdout.write(f"{summary}; the chain is intact.")

    def _revoke(self, role: str, *, commit: bool) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor != "postgresql":
            raise CommandError(
                "roles exist only on PostgreSQL; on SQLite the triggers alone guard the log"
            )
        statements = audit.revoke_sql(role)
        if commit:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
        for sql in statements:
            self.stdout.write(sql + ";")
        self.stdout.write("Revoked." if commit else "Dry run: add --commit to run these.")
