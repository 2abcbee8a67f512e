"""csp load-agreement FILE.yaml [--commit]: create or update an information-sharing
agreement from a YAML file (docs/audit.md shows the format); a dry run unless --commit."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from csp_platform.core import services
from csp_platform.core.commands import CspCommand, existing_paths


class DryRun(Exception):
    pass


class Command(CspCommand):
    help = (
        "Create or update an information-sharing agreement from a YAML file: reference, "
        "title, partnership, parties, purposes, data_classes, legal_bases, conditions, "
        "start, review, end, status. A dry run (checked, then rolled back) unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the agreement as YAML")
        parser.add_argument("--commit", action="store_true", help="save it")

    def run(self, **o: Any) -> None:
        path: Path = existing_paths([o["file"]])[0]
        data = services.isa_from_yaml(path)
        by = f"csp load-agreement ({getpass.getuser()})"
        try:
            with transaction.atomic():
                agreement, new = services.isa_load(data, by=by, source=str(path))
                if not o["commit"]:
                    raise DryRun
        except DryRun:
            pass
        verb = ("Created" if new else "Updated") if o["commit"] else "Checked (dry run)"
        self.stdout.write(
            f"{verb} agreement {agreement.reference}: {agreement.title} "
            f"({agreement.get_status_display()}, review {agreement.review:%Y-%m-%d})."
        )
