"""csp indicators [--partnership SLUG] [--months N] [--format table|csv|json]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.core.commands import CspCommand
from csp_platform.core.errors import BadQuery
from csp_platform.core.models import Partnership
from csp_platform.core.output import FORMATS, render
from csp_platform.plans.indicators import IndicatorReport, default_months, indicator_report
from csp_platform.plans.models import Indicator

COLUMNS = [
    "partnership", "indicator", "source", "owner", "frequency", "direction", "target",
    "tolerance", "latest_period", "latest_value", "rag", "months_with_data", "gaps",
    "compared_with_force",
]  # fmt: skip


class Command(CspCommand):
    help = (
        "The performance management framework: each indicator's latest value against its "
        "target (RAG in words), months with data and gaps (never zeros), and how the area "
        "compares with the rest of its force area. --format json adds every month's value."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partnership", help="partnership slug (default: every one)")
        parser.add_argument("--months", type=int, default=12, help="months shown (default 12)")
        parser.add_argument("--format", default="table", choices=FORMATS)

    def run(self, **o: Any) -> None:
        qs = Indicator.objects.select_related("partnership", "owner").order_by(
            "partnership__name", "name"
        )
        if o["partnership"]:
            if not Partnership.objects.filter(slug=o["partnership"]).exists():
                raise BadQuery(f"no partnership with the slug {o['partnership']!r}")
            qs = qs.filter(partnership__slug=o["partnership"])
        months = default_months(o["months"])
        reports = [indicator_report(i, months) for i in qs]
        if o["format"] == "json":
            self.stdout.write(json.dumps([as_json(r) for r in reports], indent=2))
        else:
            self.stdout.write(render([row(r) for r in reports], COLUMNS, o["format"]))
            if not reports:
                self.stderr.write("note: no indicators are defined")


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.0f}" if v == int(v) else f"{v:.2f}"


def row(r: IndicatorReport) -> dict[str, Any]:
    i = r.indicator
    latest = r.latest
    gaps = [m for m, v in r.values if v is None]
    return {
        "partnership": i.partnership.slug,
        "indicator": i.name,
        "source": i.source,
        "owner": i.owner.name if i.owner else "",
        "frequency": i.frequency,
        "direction": i.get_direction_display(),
        "target": "" if i.target is None else _num(float(i.target)),
        "tolerance": "" if i.tolerance is None else _num(float(i.tolerance)),
        "latest_period": latest.label if latest else "",
        "latest_value": _num(latest.value) if latest else "",
        "rag": r.rag.word,
        "months_with_data": len(r.values) - len(gaps),
        "gaps": " ".join(f"{m:%Y-%m}" for m in gaps),
        "compared_with_force": r.comparison.words if r.comparison else "",
    }


def as_json(r: IndicatorReport) -> dict[str, Any]:
    out = row(r)
    out["months"] = [{"month": f"{m:%Y-%m}", "value": v} for m, v in r.values]
    out["periods"] = [
        {"period": p.label, "value": p.value, "rag": p.rag.code, "rag_word": p.rag.word}
        for p in r.periods
    ]
    if r.comparison is not None:
        out["force"] = [vars(x) for x in r.comparison.rows]
    return out
