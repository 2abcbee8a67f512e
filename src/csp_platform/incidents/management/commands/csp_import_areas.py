"""csp import-areas --level LEVEL [--generation NAME] PATH...  (GeoJSON boundaries)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from csp_platform.areas import services
from csp_platform.areas.models import Area
from csp_platform.core.commands import CspCommand, existing_paths


class Command(CspCommand):
    help = (
        "Import area boundaries from GeoJSON (WGS84). ONS property names such as WD13CD/"
        "WD13NM, LSOA11CD/LSOA11NM and LAD11CD/LAD11NM are detected; otherwise give "
        "--code-field and --name-field. Stored incidents are re-linked to the new areas."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--level", required=True, choices=Area.Level.values)
        parser.add_argument(
            "--generation",
            help="boundary generation, e.g. 2013 (detected "
            "from WD13CD-style names; required for custom areas' own labels)",
        )
        parser.add_argument("--code-field")
        parser.add_argument("--name-field")
        parser.add_argument("--dry-run", action="store_true", help="check only; write nothing")

    def run(self, **o: Any) -> None:
        from csp_platform.incidents.services import incidents_relink_areas

        result = services.areas_import(
            existing_paths(o["paths"]),
            level=o["level"],
            generation=o["generation"],
            code_field=o["code_field"],
            name_field=o["name_field"],
            dry_run=o["dry_run"],
            after_import=incidents_relink_areas,
        )
        self.stdout.write(result.summary())
