"""csp backtest --area CODE --to YYYY-MM [--months N | --from YYYY-MM] [--cell-size M]
[--method A,B] [--category C | --theme T]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_analytics.forecast import METHODS, NAIVE, Backtest
from csp_platform.analysis import selectors
from csp_platform.analysis.management.commands._options import (
    add_filters,
    add_format,
    comma_list,
    fixed,
    number,
    scope_from,
    share,
)
from csp_platform.analysis.periods import month_date, month_label, month_parse
from csp_platform.analysis.results import finite
from csp_platform.core.commands import CspCommand
from csp_platform.core.output import render


class Command(CspCommand):
    help = (
        "How well each forecasting method would have done: every month from --from to --to "
        "is forecast from the months before it and scored by hit rate and PAI (Predictive "
        "Accuracy Index) at 1, 5 and 10% of the area, month by month, then each method's "
        "mean, spread over the months and the months it beat the best naive baseline (last "
        "month's map, last year's map, the long-run average). Without --from, the test "
        "months are the last --months months with data up to --to (default 12)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="area code")
        parser.add_argument("--from", dest="month_from", metavar="YYYY-MM")
        parser.add_argument("--to", dest="month_to", required=True, metavar="YYYY-MM")
        parser.add_argument(
            "--months",
            type=int,
            default=12,
            metavar="N",
            help="without --from: score the last N months with data up to --to (default 12)",
        )
        parser.add_argument("--cell-size", type=float, default=100.0, metavar="METRES")
        parser.add_argument("--method", help=f"comma list (default all: {', '.join(METHODS)})")
        add_filters(parser)
        add_format(parser)

    def run(self, **o: Any) -> None:
        first = month_parse(o["month_from"], "--from") if o["month_from"] else None
        last = month_parse(o["month_to"], "--to")
        bt = selectors.backtest_for_area(
            scope_from(o, o["area"], period=(first or last, last)),
            first,
            last,
            o["cell_size"],
            comma_list(o["method"]) or METHODS,
            last_n=None if o["month_from"] else o["months"],
        )
        if o["format"] == "json":
            self.stdout.write(json.dumps(as_json(bt, o["cell_size"]), indent=2, allow_nan=False))
            return
        rows = accuracy_rows(bt, text=o["format"] == "table")
        if o["format"] == "csv":  # full precision, not the table's rounding
            rows = [
                {k: number(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows
            ]
        if rows:
            self.stdout.write(render(rows, list(rows[0]), o["format"]))
        if o["format"] == "table" and bt.months:
            report = report_rows(bt)
            self.stdout.write("\n" + render(report, list(report[0]), "table"))
        lines = [f"skipped {month_label(month_date(m))}: {why}" for m, why in bt.skipped]
        lines += bt.summary().splitlines() if bt.months else ["no month could be scored"]
        out = self.stdout if o["format"] == "table" else self.stderr
        out.write("\n" + "\n".join(lines) if o["format"] == "table" else "\n".join(lines))


def _label(c: float) -> str:
    return f"{100 * c:g}"


def accuracy_rows(bt: Backtest, *, text: bool) -> list[dict[str, Any]]:
    """One row per method and month (then the method's mean): hit rate and PAI per coverage."""
    rows: list[dict[str, Any]] = []
    if not bt.months:
        return rows
    means_hr, means_pai = bt.mean_hit_rate(), bt.mean_pai()
    for i, method in enumerate(bt.methods):
        monthly = [
            (month_label(month_date(m)), bt.n_incidents[t], bt.hit_rate[i, t], bt.pai[i, t])
            for t, m in enumerate(bt.months)
        ]
        mean = [("mean", int(bt.n_incidents.sum()), means_hr[i], means_pai[i])] if bt.months else []
        for month, n, hr, pai in [*monthly, *mean]:
            row: dict[str, Any] = {"method": method, "month": month, "incidents": int(n)}
            for j, c in enumerate(bt.coverages):
                row[f"hit_{_label(c)}"] = share(hr[j]) if text else float(hr[j])
                row[f"pai_{_label(c)}"] = fixed(pai[j]) if text else float(pai[j])
            rows.append(row)
    return rows


def report_rows(bt: Backtest) -> list[dict[str, Any]]:
    """Per method and coverage: mean hit rate and PAI, the PAI's spread over the months
    (standard deviation, worst and best month) and the months the method beat the best
    naive baseline at that coverage (``best_naive``)."""
    return [
        {
            "method": r["method"],
            "area": f"{_label(r['coverage'])}%",
            "mean_hit": share(r["hit_rate"]),
            "mean_pai": fixed(r["pai"]),
            "pai_sd": fixed(r["pai_sd"]),
            "pai_min": fixed(r["pai_min"]),
            "pai_max": fixed(r["pai_max"]),
            "best_naive": bt.best_naive(r["coverage"]) or "",
            "months_beating_it": f"{r['months_beating_naive']} of {r['months']}",
        }
        for r in bt.table()
    ]


def as_json(bt: Backtest, cell_size: float) -> dict[str, Any]:
    best = bt.best(0.05) if bt.months and 0.05 in bt.coverages else None
    versus = {
        base: {k: finite(v) for k, v in bt.versus(best, base, 0.05).items()}
        for base in NAIVE
        if best and base != best
    }
    return {
        "methods": list(bt.methods),
        "coverages": list(bt.coverages),
        "area_share": [float(a) for a in bt.area_share],
        "cell_size_m": cell_size,
        "n_cells": bt.n_cells,
        "months": [month_label(month_date(m)) for m in bt.months],
        "skipped": [{"month": month_label(month_date(m)), "reason": r} for m, r in bt.skipped],
        "rows": accuracy_rows(bt, text=False),
        "report": [
            {k: finite(v) if isinstance(v, float) else v for k, v in r.items()} for r in bt.table()
        ],
        "best_naive_at_5pct": bt.best_naive(0.05) if bt.months else None,
        "best_at_5pct": best,
        "best_versus_naive": versus,
        "summary": bt.summary() if bt.months else "no month could be scored",
    }
