"""csp quality [--source CODE] [--format table|csv|json]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from csp_platform.core.commands import CspCommand
from csp_platform.core.output import FORMATS, render
from csp_platform.incidents import selectors

COLUMNS = [
    "code",
    "kind",
    "rows",
    "without_location",
    "outside_areas",
    "unknown",
    "excluded_by_mapping",
    "first_month",
    "last_month",
    "months_covered",
    "months_missing",
]


class Command(CspCommand):
    help = (
        "Data-quality report per source: rows, rows without a location, rows outside every "
        "imported area, unknown categories, months covered and months missing inside the "
        "covered span."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", action="append", default=[])
        parser.add_argument("--format", default="table", choices=FORMATS)

    def run(self, **o: Any) -> None:
        report = selectors.quality_report(tuple(o["source"]))
        if o["format"] == "json":
            self.stdout.write(
                render(
                    [r.as_dict() for r in report],
                    list(report[0].as_dict()) if report else [],
                    "json",
                )
            )
            return
        rows = []
        for r in report:
            row = r.as_dict()
            row["unknown"] = "; ".join(f"{k} ({v})" for k, v in r.unknown_categories.items())
            row["months_missing"] = " ".join(r.months_missing) or "none"
            rows.append(row)
        self.stdout.write(render(rows, COLUMNS, o["format"]))
