"""csp emerging --area CODE --month YYYY-MM [--by ward|category] [--format ...]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.analysis import selectors
from csp_platform.analysis.management.commands._options import (
    add_filters,
    add_format,
    fixed,
    scope_from,
)
from csp_platform.analysis.periods import month_parse
from csp_platform.analysis.results import finite
from csp_platform.core.commands import CspCommand
from csp_platform.core.output import render

COLUMNS = ["series", "observed", "expected", "ratio", "q_value", "flagged"]


class Command(CspCommand):
    help = (
        "Emerging issues: the wards (or categories) of an area whose count in a month is "
        "above what their own history and season predict, with the evidence. Missing months "
        "are gaps, never zeros."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="district (or ward with --by category)")
        parser.add_argument("--month", required=True, metavar="YYYY-MM")
        parser.add_argument("--by", default="ward", choices=["ward", "category"])
        parser.add_argument("--all", action="store_true", help="list every series, not only issues")
        add_filters(parser)
        add_format(parser)

    def run(self, **o: Any) -> None:
        month = month_parse(o["month"], "--month")
        scope = scope_from(o, o["area"], period=(month, month))
        scan = selectors.emerging_for_area(scope, month, by=o["by"])
        checks = [c for c in scan.checks if o["all"] or c.flagged]
        if o["format"] == "json":
            data = {
                "month": scan.month,
                "series_tested": scan.n_tested,
                "alpha": scan.alpha,
                "checks": [{k: finite(v) for k, v in vars(c).items()} for c in checks],
            }
            self.stdout.write(json.dumps(data, indent=2, allow_nan=False, default=list))
            return
        text = o["format"] == "table"
        rows = [
            {
                "series": c.series_key,
                "observed": c.observed,
                "expected": fixed(c.expected, 1) if text else finite(c.expected),
                "ratio": fixed(c.ratio) if text else finite(c.ratio),
                "q_value": fixed(c.q_value, 3) if text else finite(c.q_value),
                "flagged": "yes" if c.flagged else "no",
            }
            for c in checks
        ]
        self.stdout.write(render(rows, COLUMNS, o["format"]))
        out = self.stdout if text else self.stderr
        out.write(
            f"{len(scan.issues)} emerging issue(s) in {scan.month} among {scan.n_tested} series "
            f"tested (false discovery rate {scan.alpha:g})."
        )
        if text:
            for c in checks:
                out.write(f"- {c.evidence}")
