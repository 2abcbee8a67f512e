"""csp forecast --area CODE --through YYYY-MM --cell-size METRES [--method NAME|auto]
[--category C | --theme T] [--months N] [--format csv]"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.core.management.base import CommandParser

from csp_analytics.forecast import METHODS
from csp_platform.analysis import selectors
from csp_platform.analysis.management.commands._options import (
    add_filters,
    add_format,
    number,
    scope_from,
)
from csp_platform.analysis.periods import month_date, month_label, month_parse
from csp_platform.core.commands import CspCommand
from csp_platform.core.output import render

COLUMNS = ["easting", "northing", "size_m", "score"]


class Command(CspCommand):
    help = (
        "Next month's hotspots: one row per grid cell of the area (easting, northing of the "
        "south-west corner in EPSG:27700 metres, cell size, score; higher = more crime "
        "expected), highest score first, for the month after --through. Only incidents up "
        "to --through are read. The default method (auto) is the one with the best mean PAI "
        "at 5% of the area in a backtest over the last --months months with data (default "
        "12); the choice is said on standard error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="area code")
        parser.add_argument(
            "--through",
            required=True,
            metavar="YYYY-MM",
            help="last month of data used; the forecast is for the next month",
        )
        parser.add_argument("--cell-size", required=True, type=float, metavar="METRES")
        parser.add_argument(
            "--method", default="auto", help=f"auto (default) or one of {', '.join(METHODS)}"
        )
        parser.add_argument(
            "--months",
            type=int,
            default=12,
            metavar="N",
            help="with --method auto: months with data the choosing backtest scores",
        )
        add_filters(parser)
        add_format(parser, default="csv")

    def run(self, **o: Any) -> None:
        through = month_parse(o["through"], "--through")
        scope = scope_from(o, o["area"], period=(through, through))
        chosen = ""
        if o["method"] == "auto":
            choice = selectors.best_forecast_for_area(
                scope, through, o["cell_size"], months=o["months"]
            )
            f, chosen = choice.forecast, choice.sentence() + "\n"
        else:
            f = selectors.forecast_for_area(scope, through, o["cell_size"], o["method"])
        order = f.top(1.0)  # every cell, highest score first (ties: south-west first)
        size = number(f.size_m)
        rows = [
            {
                "easting": f"{f.x_sw[i]:.0f}",
                "northing": f"{f.y_sw[i]:.0f}",
                "size_m": size,
                "score": number(f.score[i]),
            }
            for i in order
        ]
        self.stdout.write(render(rows, COLUMNS, o["format"]))
        used = ", ".join(f"{k}={v:g}" for k, v in f.params.items())
        months = [month_label(month_date(m)) for m in f.training_months]
        self.stderr.write(
            f"{chosen}forecast for {month_label(month_date(f.target))} by {f.method}"
            f"{f' ({used})' if used else ''} from {len(months)} months with data "
            f"({months[0]} to {months[-1]}); {len(rows)} cells of {number(f.size_m)} m, "
            f"{int(np.sum(f.score > 0))} with a score above 0 ({f.crs}, south-west corners)"
        )
