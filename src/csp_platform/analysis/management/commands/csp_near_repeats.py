"""csp near-repeats --area CODE --period YYYY-MM..YYYY-MM [--category burglary]"""

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


class Command(CspCommand):
    help = (
        "Knox test for near-repeats (default: burglary within 200 m in the same month, 999 "
        "permutations), with the Near Repeat Calculator style table of Knox ratios. police.uk "
        "gives months and snap points, so only month-scale patterns can show."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="area code")
        parser.add_argument("--period", required=True, metavar="YYYY-MM..YYYY-MM")
        parser.add_argument("--category", default="burglary")
        parser.add_argument("--distance", type=float, default=200.0, metavar="METRES")
        parser.add_argument("--months", type=int, default=0, help="close in time: months apart")
        parser.add_argument("--permutations", type=int, default=999)
        parser.add_argument("--seed", type=int, default=0)
        add_filters(parser, categories=False)
        add_format(parser)

    def run(self, **o: Any) -> None:
        period = period_parse(o["period"])
        scope = scope_from(o, o["area"], period=period, categories=False, category=o["category"])
        report = selectors.knox_for_area(
            scope,
            period,
            space_threshold_m=o["distance"],
            time_threshold=o["months"],
            permutations=o["permutations"],
            seed=o["seed"],
        )
        data = report.to_json()
        if o["format"] == "json":
            self.stdout.write(json.dumps(data, indent=2, allow_nan=False))
            return
        rows = data["table"]
        self.stdout.write(render(rows, list(rows[0]) if rows else ["space"], o["format"]))
        r = report.result
        out = self.stdout if o["format"] == "table" else self.stderr
        out.write(
            f"Knox: {r.observed:,} pairs within {r.space_threshold_m:g} m and "
            f"{r.time_threshold} month(s) against {r.expected:,.0f} expected (ratio "
            f"{r.ratio:.2f}, p = {r.p_value:.3g}, {r.permutations} permutations) among "
            f"{r.n_events:,} {report.category} incidents."
        )
        for c in r.caveats:
            out.write(f"note: {c}")
