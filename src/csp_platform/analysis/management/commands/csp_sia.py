"""csp sia --area CODE --period YYYY-MM..YYYY-MM --baseline YYYY-MM..YYYY-MM [--format ...]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.analysis import selectors
from csp_platform.analysis.management.commands._options import (
    add_filters,
    add_format,
    scope_from,
    share,
)
from csp_platform.analysis.periods import period_parse
from csp_platform.analysis.results import (
    DIRECTION_ICONS,
    SiaReport,
    change_pct_text,
    p_value_text,
)
from csp_platform.core.commands import CspCommand
from csp_platform.core.output import render


class Command(CspCommand):
    help = (
        "Strategic intelligence assessment for an area: every theme and category, this "
        "period against a baseline, with an exact test of each change (Benjamini-Hochberg "
        "across the table), plain-English findings, top repeat locations and sub-categories. "
        "Months without data are left out and reported, never counted as zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="area code (district, ward, ...)")
        parser.add_argument("--period", required=True, metavar="YYYY-MM..YYYY-MM")
        parser.add_argument("--baseline", required=True, metavar="YYYY-MM..YYYY-MM")
        add_filters(parser, categories=False)
        add_format(parser)

    def run(self, **o: Any) -> None:
        period = period_parse(o["period"], "--period")
        scope = scope_from(o, o["area"], period=period, categories=False)
        report = selectors.sia_for_area(scope, period, period_parse(o["baseline"], "--baseline"))
        if o["format"] == "json":
            self.stdout.write(json.dumps(report.to_json(), indent=2, allow_nan=False))
        elif o["format"] == "csv":  # the same layout as the SIA page's download
            self.stdout.write(report.to_csv())
            for note in report.notes:
                self.stderr.write(f"note: {note}")
        else:
            self.stdout.write(table(report))


def table(report: SiaReport) -> str:
    """The SIA rows, then the findings, the repeat locations, sub-categories and notes."""
    a = report.area
    head = [
        f"SIA: {a.name} ({a.level} {a.code}, {a.generation}); {report.period_label} "
        f"({report.current_months} months with data) against {report.baseline_label} "
        f"({report.baseline_months} months with data). Sources: {', '.join(report.sources)}.",
        "",
    ]
    rows = []
    for r in report.rows():
        label = r["theme_name"] if r["level"] == "theme" else f"  {r['category_name']}"
        rows.append(
            {
                "row": label,
                "baseline": f"{r['baseline']:,}",
                "current": f"{r['current']:,}",
                "baseline_per_month": _per_month(r["baseline_per_month"]),
                "current_per_month": _per_month(r["current_per_month"]),
                "change_pct": _change(r),
                "q": p_value_text(r["q_value"]),
                "reading": f"{DIRECTION_ICONS[r['direction']]} {r['reading']}"
                if r["significant"]
                else r["reading"],
                "small_numbers": "small numbers" if r["small_numbers"] else "",
            }
        )
    columns = [
        "row", "baseline", "current", "baseline_per_month", "current_per_month", "change_pct",
        "q", "reading", "small_numbers",
    ]  # fmt: skip
    out = head + [
        render(rows, columns, "table"),
        "change_pct, the direction (▲ rise, ▼ fall) and the test all compare the monthly "
        "rates: incidents per month with data in each period.",
        "",
        "Findings:",
    ]
    out += [f"- {f.text}" for f in report.findings]
    out += ["", *_locations(report), *_subcategories(report)]
    out += [f"note: {n}" for n in report.notes]
    return "\n".join(out).rstrip()


def _per_month(value: float) -> str:
    return f"{value:,.1f}"


def _change(r: dict[str, Any]) -> str:
    """E.g. "▲ +39%": the direction of the monthly rate in symbol and sign."""
    text = change_pct_text(r["direction"], r["change_pct"], r["current"])
    return f"{DIRECTION_ICONS[r['direction']]} {text}" if text else ""


def _locations(report: SiaReport) -> list[str]:
    r = report.repeats
    if not report.top_locations:
        return []
    lines = [
        f"Top repeat locations in {report.period_label}: {r.n_repeat_keys:,} of {r.n_keys:,} "
        f"snap points had two or more incidents, holding {share(r.share_at_repeat_keys)} of "
        "the incidents with a location.",
        *[f"  {c}" for c in r.caveats],
    ]
    rows = [
        {
            "incidents": t.incidents,
            "location": t.location,
            "easting": f"{t.easting:.0f}",
            "northing": f"{t.northing:.0f}",
        }
        for t in report.top_locations
    ]
    return [*lines, render(rows, ["incidents", "location", "easting", "northing"], "table"), ""]


def _subcategories(report: SiaReport) -> list[str]:
    if not report.subcategories:
        return []
    rows = [
        {
            "category": s.category_name,
            "subcategory": s.subcategory,
            "current": s.current,
            "baseline": s.baseline,
            "share": share(s.share_of_category),
        }
        for s in report.subcategories
    ]
    columns = ["category", "subcategory", "current", "baseline", "share"]
    return ["Sub-categories (the source's own categories):", render(rows, columns, "table"), ""]
