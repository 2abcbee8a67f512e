"""csp rates --level LEVEL --period YYYY-MM..YYYY-MM [--parent CODE] [--category ...]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.analysis import selectors
from csp_platform.analysis.management.commands._options import (
    add_filters,
    add_format,
    fixed,
    number,
    scope_from,
)
from csp_platform.analysis.periods import period_parse
from csp_platform.core.commands import CspCommand
from csp_platform.core.output import render

COLUMNS = [
    "code", "name", "generation", "population", "incidents", "per_1000", "months_with_data",
    "missing_months", "reason",
]  # fmt: skip


class Command(CspCommand):
    help = (
        "Incidents and rates per 1,000 residents for every area of a level (newest boundary "
        "generation), optionally inside one district, over the months of the period with data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--level", required=True, help="ward, lsoa, msoa, district, custom")
        parser.add_argument("--period", required=True, metavar="YYYY-MM..YYYY-MM")
        parser.add_argument("--parent", help="district code: only its areas")
        add_filters(parser)
        add_format(parser)

    def run(self, **o: Any) -> None:
        period = period_parse(o["period"])
        scope = scope_from(o, o["parent"], period=period, levels=("district",))
        table = selectors.rates_for_areas(scope, o["level"], period)
        if o["format"] == "json":
            self.stdout.write(json.dumps(table.to_json(), indent=2, allow_nan=False))
            return
        show = fixed if o["format"] == "table" else number
        rows = [{**r, "per_1000": show(r["per_1000"])} for r in table.records()]
        self.stdout.write(render(rows, COLUMNS, o["format"]))
        for note in table.notes:
            self.stderr.write(f"note: {note}")
