"""csp import-incidents --format {police-uk,mapped} [--mapping M.yaml] PATH..."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from csp_platform.core.commands import CspCommand, existing_paths, progress_bar
from csp_platform.core.models import Organisation
from csp_platform.incidents import services


class Command(CspCommand):
    help = (
        "Import incidents: data.police.uk street-level files (.csv/.csv.gz, files or "
        "folders) or any partner CSV/XLSX described by a YAML mapping. All or nothing; "
        "importing the same rows again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--format", required=True, choices=["police-uk", "mapped"])
        parser.add_argument("--mapping", help="YAML mapping (with --format mapped)")
        parser.add_argument(
            "--dry-run", action="store_true", help="read and check everything, write nothing"
        )
        parser.add_argument(
            "--organisation",
            metavar="SLUG",
            help="the organisation that owns the sources, their crosswalk and the import "
            "(default: the force named in 'Falls within' for police.uk files, the mapping's "
            "source.organisation for partner files)",
        )

    def _owner(self, slug: str | None) -> services.Owner:
        if not slug:
            return services.OPERATOR
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation is None:
            raise CommandError(f"--organisation: no organisation with the slug {slug!r}")
        return services.Owner(organisation=organisation)

    def run(self, **o: Any) -> None:
        paths = existing_paths(o["paths"])
        bar = progress_bar("file")
        owner = self._owner(o["organisation"])
        if o["format"] == "police-uk":
            if o["mapping"]:
                raise CommandError("--mapping goes with --format mapped")
            result = services.police_uk_import(
                paths, dry_run=o["dry_run"], progress=bar, owner=owner
            )
        else:
            if not o["mapping"]:
                raise CommandError("--format mapped needs --mapping MAPPING.yaml")
            mapping = services.mapping_load(Path(o["mapping"]))
            result = services.mapped_import(
                paths, mapping=mapping, dry_run=o["dry_run"], progress=bar, owner=owner
            )
        prefix = "dry run (nothing written): " if o["dry_run"] else ""
        self.stdout.write(prefix + result.summary())
