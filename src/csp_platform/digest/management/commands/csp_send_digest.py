"""csp send-digest [--dry-run] [--partnership SLUG] [--date YYYY-MM-DD]: send this week's
digest of overdue and at-risk actions to each lead now (the scheduled job does the same every
Monday); never twice for the same week to the same person."""

from __future__ import annotations

import getpass
from datetime import date
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.core.commands import CspCommand
from csp_platform.core.errors import DomainError
from csp_platform.core.models import Partnership
from csp_platform.digest.services import send_weekly_digests


class Command(CspCommand):
    help = (
        "Send the weekly digest of overdue and at-risk actions to each lead (members of a "
        "lead organisation who update actions, and lead officers who are members). With "
        "--dry-run, list who would get what and send nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="send and record nothing")
        parser.add_argument("--partnership", help="one partnership's slug (default: every one)")
        parser.add_argument(
            "--date", help="the day to judge overdue and at risk on (default: today, London)"
        )

    def run(self, **o: Any) -> None:
        partnerships = None
        if o["partnership"]:
            found = Partnership.objects.filter(slug=o["partnership"])
            if not found.exists():
                raise DomainError(f"--partnership: no partnership {o['partnership']!r}")
            partnerships = list(found)
        today: date | None = None
        if o["date"]:
            try:
                today = date.fromisoformat(o["date"])
            except ValueError:
                raise DomainError(f"--date: {o['date']!r} is not a date (YYYY-MM-DD)") from None
        run = send_weekly_digests(
            today=today,
            partnerships=partnerships,
            dry_run=o["dry_run"],
            by=f"csp send-digest ({getpass.getuser()})",
        )
        for line in run.lines():
            self.stdout.write(line)
