"""csp crosswalk {list [--source CODE] | export --source CODE | import --source CODE FILE.csv
[--dry-run] | categories}"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.core.commands import CspCommand
from csp_platform.core.output import FORMATS, render
from csp_platform.incidents import crosswalks

LIST_COLUMNS = ["scheme", "version", "latest", "created", "mapped", "excluded", "sources", "note"]


class Command(CspCommand):
    help = (
        "See and change the category crosswalk: which source value counts as which canonical "
        "category. `list` shows every version, `export` writes a source's current crosswalk "
        "as CSV, `import` makes a new version from an edited CSV and re-maps the stored "
        "records (all or nothing), `categories` lists the canonical codes."
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
        else:
            rows = crosswalks.crosswalk_categories()
            self.stdout.write(render(rows, ["code", "name", "theme"], o["format"]))
