"""csp import-population CSV  (census LSOA counts, summed up to larger areas)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.areas import services
from csp_platform.core.commands import CspCommand, existing_paths


class Command(CspCommand):
    help = (
        "Set LSOA populations from a census table of LSOA counts (an 'LSOA Code' and a "
        "'Persons' column) and sum them up to wards, MSOAs, districts and custom areas."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", metavar="CSV")
        parser.add_argument("--dry-run", action="store_true")

    def run(self, **o: Any) -> None:
        path: Path = existing_paths([o["path"]])[0]
        self.stdout.write(services.population_import(path, dry_run=o["dry_run"]).summary())
