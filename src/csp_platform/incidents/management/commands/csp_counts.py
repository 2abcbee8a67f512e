"""csp counts --by FIELDS [--area CODE] [--from YYYY-MM] [--to YYYY-MM] [--format ...]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.core.commands import CspCommand, parse_month
from csp_platform.core.output import FORMATS, render
from csp_platform.incidents import selectors
from csp_platform.incidents.scope import FULL_ACCESS, scope_resolve


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


class Command(CspCommand):
    help = (
        "Incident counts grouped by a comma list of month, category, theme, source, ward, "
        "lsoa, district. Aggregate returns (counts from partners) are shown in their own "
        "column, aggregate_count, never added to incidents."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--by", required=True)
        parser.add_argument("--area", help="area code (any level): count only inside it")
        parser.add_argument("--from", dest="month_from", metavar="YYYY-MM")
        parser.add_argument("--to", dest="month_to", metavar="YYYY-MM")
        parser.add_argument("--source", help="comma list of source codes")
        parser.add_argument("--category", help="comma list of category codes")
        parser.add_argument("--theme", help="comma list of theme codes")
        parser.add_argument(
            "--generation", help="ward boundary generation, e.g. 2013 (default: the newest)"
        )
        parser.add_argument("--format", default="table", choices=FORMATS)

    def run(self, **o: Any) -> None:
        query = selectors.CountQuery(
            by=_list(o["by"]),
            month_from=parse_month(o["month_from"], "--from"),
            month_to=parse_month(o["month_to"], "--to"),
        )
        scope = scope_resolve(
            FULL_ACCESS,
            o["area"],
            sources=_list(o["source"]),
            categories=_list(o["category"]),
            themes=_list(o["theme"]),
            generation=o["generation"],
        )
        table = selectors.counts(scope, query)
        words = selectors.not_covered(scope, query) if not table.rows else ""
        if words:  # nothing any loaded source could have counted: words, never a zero
            out = {"table": words, "csv": render([{"note": words}], ["note"], "csv")}
            self.stdout.write(out.get(o["format"], json.dumps({"rows": [], "no_data": words})))
            return
        self.stdout.write(render(table.rows, table.columns, o["format"]))
        for note in table.notes:
            self.stderr.write(f"note: {note}")
