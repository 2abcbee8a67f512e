"""csp import-plan PATH [--partnership SLUG] [--dry-run]: import a plan as the partnership
writes it (tab-separated tables; docs/plans.md), all or nothing."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.core.commands import CspCommand, existing_paths
from csp_platform.plans import services


class Command(CspCommand):
    help = (
        "Import a delivery plan (Objective/Action/Update/Q1-Q4/Lead tables), a scrutiny "
        "action plan (recommendation, proposed action, post title, budget cost, timescale) "
        "or 'Theme/Action' tables from their tab-separated text. Prints what it made and "
        "what it could not place; all or nothing; a second import of a file changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the plan's text file")
        parser.add_argument(
            "--partnership",
            help="the partnership's slug (default: the one the document names)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report; write nothing"
        )

    def run(self, **o: Any) -> None:
        path = existing_paths([o["path"]])[0]
        report = services.plan_import(
            path,
            partnership_slug=o["partnership"],
            dry_run=o["dry_run"],
            by=f"csp import-plan ({getpass.getuser()})",
        )
        for line in report.lines():
            self.stdout.write(line)
