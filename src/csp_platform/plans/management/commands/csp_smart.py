"""csp smart [--partnership SLUG] [--format table|csv|json]: the SMART check of every action
and scrutiny recommendation of a partnership's plans (docs/analytics/smart-check.md)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_analytics.smart import CRITERIA
from csp_platform.core.commands import CspCommand
from csp_platform.core.errors import DomainError
from csp_platform.core.models import Partnership
from csp_platform.core.output import FORMATS, render
from csp_platform.plans.smart import SmartReport, smart_report

COLUMNS = ("plan", "item", "line", "text", *CRITERIA, "reasons")


class Command(CspCommand):
    help = (
        "SMART check of a partnership's plan actions: which of specific, measurable, "
        "assignable, relevant and time-bound each lacks, with the reason and the words that "
        "caused it, and how many lack each."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partnership", help="a partnership's slug (default: every one)")
        parser.add_argument("--format", choices=FORMATS, default="table")

    def run(self, **o: Any) -> None:
        partnerships = Partnership.objects.order_by("slug")
        if o["partnership"]:
            partnerships = partnerships.filter(slug=o["partnership"])
            if not partnerships.exists():
                raise DomainError(f"--partnership: no partnership {o['partnership']!r}")
        reports = [smart_report(p) for p in partnerships]
        if o["format"] == "json":
            data = [_json(r) for r in reports]
            self.stdout.write(json.dumps(data[0] if o["partnership"] else data, indent=2))
            return
        rows = [row for r in reports for row in _rows(r)]
        if o["format"] == "csv":
            self.stdout.write(render(rows, COLUMNS, "csv"))
            return
        for report in reports:
            n = len(report.rows)
            self.stdout.write(f"{report.partnership.name}: {report.smart_count} of {n} SMART")
            for criterion, count in report.counts.items():
                self.stdout.write(f"  {criterion.capitalize():<11} lacking: {count} of {n}")
            self.stdout.write("")
            self.stdout.write(render(_rows(report), COLUMNS[:-1], "table"))
            self.stdout.write("")


def _rows(report: SmartReport) -> list[dict[str, Any]]:
    rows = []
    for row in report.rows:
        lacks = {g.criterion for g in row.gaps}
        rows.append(
            {
                "plan": row.plan.title,
                "item": row.label,
                "line": row.source_line,
                "text": row.text if len(row.text) <= 60 else row.text[:59] + "…",
                **{c: ("lacks" if c in lacks else "ok") for c in CRITERIA},
                "reasons": " | ".join(f"{g.criterion}: {g.reason}" for g in row.gaps),
            }
        )
    return rows


def _json(report: SmartReport) -> dict[str, Any]:
    return {
        "partnership": report.partnership.slug,
        "items_checked": len(report.rows),
        "smart": report.smart_count,
        "counts": report.counts,
        "items": [
            {
                "plan": row.plan.title,
                "kind": row.kind,
                "label": row.label,
                "uuid": row.uuid,
                "line": row.source_line,
                "text": row.text,
                "lacks": [
                    {"criterion": g.criterion, "rule": g.rule, "reason": g.reason, "quote": g.quote}
                    for g in row.gaps
                ],
            }
            for row in report.rows
        ],
    }
