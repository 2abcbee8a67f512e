"""csp crosswalk {list [--source CODE] | export --source CODE | import --source CODE FILE.csv
[--dry-run] | categories | history SCHEME [--organisation SLUG] | revert SCHEME --to N
[--organisation SLUG] [--from-reference] [--commit]}"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from csp_platform.core.commands import CspCommand
from csp_platform.core.models import Organisation
from csp_platform.core.output import FORMATS, render
from csp_platform.incidents import crosswalks, selectors, services

LIST_COLUMNS = ["scheme", "version", "latest", "created", "mapped", "excluded", "sources", "note"]


class Command(CspCommand):
    help = (
        "See and change the category crosswalk: which source value counts as which canonical "
        "category. `list` shows every version, `export` writes a source's current crosswalk "
        "as CSV, `import` makes a new version from an edited CSV and re-maps the stored "
        "records (all or nothing), `categories` lists the canonical codes. `history` shows "
        "the versions of a scheme's crosswalk kept by an organisation (who made each, when, "
        "and the version it replaced); `revert` puts version N back as a new version and "
        "re-maps that organisation's sources (a dry run unless --commit)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = actions.add_parser("list", help="every crosswalk version")
        listing.add_argument("--source", help="only the scheme of this source (a source code)")
        listing.add_argument("--format", default="table", choices=FORMATS)
        export = actions.add_parser(
            "export", help="the source's current crosswalk as CSV on standard output"
        )
        export.add_argument("--source", required=True, help="a source code (csp quality)")
        imports = actions.add_parser(
            "import", help="a new crosswalk version from a CSV written by export"
        )
        imports.add_argument("--source", required=True, help="a source code (csp quality)")
        imports.add_argument("file", metavar="FILE.csv")
        imports.add_argument(
            "--dry-run", action="store_true", help="check and count everything, change nothing"
        )
        categories = actions.add_parser("categories", help="the canonical category codes")
        categories.add_argument("--format", default="table", choices=FORMATS)
        for name, text in (
            ("history", "the versions of a scheme's crosswalk kept by an organisation"),
            ("revert", "put an earlier version back as a new version (dry run by default)"),
        ):
            sub = actions.add_parser(name, help=text)
            sub.add_argument("scheme", help="e.g. police-uk")
            sub.add_argument(
                "--organisation", metavar="SLUG", help="whose crosswalk (default: the reference)"
            )
            if name == "revert":
                sub.add_argument("--to", type=int, metavar="N", required=True, dest="revert_to")
                sub.add_argument(
                    "--from-reference",
                    action="store_true",
                    help="N is a version of the reference crosswalk",
                )
                sub.add_argument("--commit", action="store_true", help="write the revert")

    def run(self, **o: Any) -> None:
        action = o["action"]
        if action == "list":
            rows = [v.as_dict() for v in crosswalks.crosswalk_versions(o["source"])]
            self.stdout.write(render(rows, LIST_COLUMNS, o["format"]))
        elif action == "export":
            rows = crosswalks.crosswalk_export(o["source"])
            self.stdout.write(render(rows, crosswalks.COLUMNS, "csv"))
        elif action == "import":
            result = crosswalks.crosswalk_import(o["source"], Path(o["file"]), dry_run=o["dry_run"])
            self.stdout.write(result.summary())
        elif action == "categories":
            rows = crosswalks.crosswalk_categories()
            self.stdout.write(render(rows, ["code", "name", "theme"], o["format"]))
        else:
            self._history_or_revert(action, o)

    def _history_or_revert(self, action: str, o: dict[str, Any]) -> None:
        organisation = None
        if o["organisation"]:
            organisation = Organisation.objects.filter(slug=o["organisation"]).first()
            if organisation is None:
                raise CommandError(f"--organisation: no organisation {o['organisation']!r}")
        if action == "history":
            for line in selectors.crosswalk_history(o["scheme"], organisation):
                self.stdout.write(line)
            return
        with transaction.atomic():
            saved, remapped = services.crosswalk_revert(
                scheme=o["scheme"],
                organisation=organisation,
                to_version=o["revert_to"],
                from_reference=o["from_reference"],
                by_user="command line",
            )
            if not o["commit"]:
                transaction.set_rollback(True)
        verb = "reverted" if o["commit"] else "dry run (nothing written): would revert"
        self.stdout.write(
            f"{verb} {o['scheme']} to version {o['revert_to']}: now {saved}; "
            f"{remapped} stored rows re-mapped"
        )
