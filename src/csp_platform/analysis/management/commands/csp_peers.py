"""csp peers --area CODE --period YYYY-MM..YYYY-MM [--category ...] [--format ...]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.analysis import selectors
from csp_platform.analysis.management.commands._options import (
    add_filters,
    add_format,
    scope_from,
)
from csp_platform.analysis.periods import period_parse
from csp_platform.core.commands import CspCommand
from csp_platform.core.output import render

COLUMNS = [
    "group", "focus_rate", "rest_rate", "rate_ratio", "ci_low", "ci_high", "p_value", "rank",
    "n_ranked", "group_pooled_rate", "group_mean_rate",
]  # fmt: skip


class Command(CspCommand):
    help = (
        "Compare a ward's or district's rate per 1,000 residents with the rest of its "
        "district's wards or its force area (exact Poisson test), and with the partnership "
        "average."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="ward or district code")
        parser.add_argument("--period", required=True, metavar="YYYY-MM..YYYY-MM")
        add_filters(parser)
        add_format(parser)

    def run(self, **o: Any) -> None:
        period = period_parse(o["period"])
        report = selectors.peer_comparison_for(scope_from(o, o["area"], period=period), period)
        if o["format"] == "json":
            self.stdout.write(json.dumps(report.to_json(), indent=2, allow_nan=False))
            return
        rows = [g.to_json() for g in report.groups]
        if o["format"] == "table":
            rows = [{**r, "p_value": f"{r['p_value']:.2g}"} for r in rows]
        self.stdout.write(render(rows, COLUMNS, o["format"]))
        out = self.stdout if o["format"] == "table" else self.stderr
        for line in [*report.sentences(), *report.notes]:
            out.write(line)
