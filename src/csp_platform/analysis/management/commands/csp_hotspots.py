"""csp hotspots --area CODE --period YYYY-MM..YYYY-MM [--method kde|gistar-grid|gistar-ward]"""

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


class Command(CspCommand):
    help = (
        "Hotspots of an area over a period: kernel density on a British National Grid grid "
        "(kde), or Getis-Ord Gi* hot and cold spots on grid cells (gistar-grid) or wards "
        "(gistar-ward) with a Benjamini-Hochberg correction. Cells are south-west corners in "
        "EPSG:27700 metres."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="area code")
        parser.add_argument("--period", required=True, metavar="YYYY-MM..YYYY-MM")
        parser.add_argument("--method", default="kde", choices=selectors.HOTSPOT_METHODS)
        parser.add_argument("--cell-size", type=float, default=250.0, metavar="METRES")
        parser.add_argument(
            "--bandwidth",
            type=float,
            metavar="METRES",
            help="kde search radius (default: Silverman's rule)",
        )
        parser.add_argument("--permutations", type=int, default=999)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--top", type=int, help="only the N highest cells (table: 20)")
        add_filters(parser)
        add_format(parser)

    def run(self, **o: Any) -> None:
        period = period_parse(o["period"])
        report = selectors.hotspots_for_area(
            scope_from(o, o["area"], period=period),
            period,
            cell_size=o["cell_size"],
            method=o["method"],
            bandwidth=o["bandwidth"],
            permutations=o["permutations"],
            seed=o["seed"],
        )
        if o["format"] == "json":
            self.stdout.write(json.dumps(report.to_json(), indent=2, allow_nan=False))
            return
        top = o["top"] or (20 if o["format"] == "table" else None)
        cells = sorted(report.cells, key=lambda c: (-c.value, c.key))[:top]
        text = o["format"] == "table"
        rows = [
            {
                "cell": c.key,
                "incidents": c.count,
                "value": fixed(c.value, 3 if report.method == "kde" else 0)
                if text
                else number(c.value),
                "z": fixed(c.z) if text else number(c.z),
                "q": fixed(c.p_adjusted, 4) if text else number(c.p_adjusted),
                "hot": "hot" if c.hot else ("cold" if c.cold else ""),
            }
            for c in cells
        ]
        columns = ["cell", "incidents", "value"]
        columns += [] if report.method == "kde" else ["z", "q", "hot"]
        self.stdout.write(render(rows, columns, o["format"]))
        out = self.stdout if o["format"] == "table" else self.stderr
        hot = len(report.hot())
        out.write(
            f"{report.n_incidents:,} incidents, {len(report.cells):,} cells or wards"
            f"{'' if report.method == 'kde' else f', {hot} hot spot(s)'}."
        )
        for note in report.notes:
            out.write(f"note: {note}")
