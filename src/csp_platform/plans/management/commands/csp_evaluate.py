"""csp evaluate --action UUID|ID  |  --area CODE --start YYYY-MM --category ... [--theme ...]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from csp_platform.analysis.evaluation import (
    ActionEvaluation,
    EvaluationReport,
    evaluation_for,
    evaluation_for_action,
)
from csp_platform.analysis.management.commands._options import add_filters, scope_from
from csp_platform.analysis.periods import month_parse
from csp_platform.core.commands import CspCommand
from csp_platform.core.errors import BadQuery
from csp_platform.core.output import render


class Command(CspCommand):
    help = (
        "Did it work? Incidents before and after an action's start in its area, against "
        "comparison wards chosen for a similar level and trend before the start "
        "(difference in differences with a 95%% interval), with the weighted displacement "
        "quotient for a ring around the area; a plain-English verdict, or why there is none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--action", help="a plan action's UUID or number")
        parser.add_argument("--area", help="area code (ad hoc, with --start and --category)")
        parser.add_argument("--start", metavar="YYYY-MM", help="the month the action started")
        parser.add_argument("--before", type=int, default=12, help="months before (default 12)")
        parser.add_argument("--after", type=int, default=12, help="months after (default 12)")
        parser.add_argument("--ring", type=int, default=500, help="ring width in metres")
        parser.add_argument("--k", type=int, default=5, help="comparison areas (default 5)")
        add_filters(parser)
        parser.add_argument("--format", default="table", choices=["table", "json"])

    def run(self, **o: Any) -> None:
        opts = {"months_before": o["before"], "months_after": o["after"], "ring_m": o["ring"]}
        opts["k"] = o["k"]
        if o["action"]:
            found = evaluation_for_action(_action(o["action"]), **opts)
        else:
            if not (o["area"] and o["start"]):
                raise BadQuery("give --action, or --area with --start and --category/--theme")
            scope = scope_from(o, o["area"])
            report = evaluation_for(scope, month_parse(o["start"], "--start"), **opts)
            found = ActionEvaluation((report,), ())
        if o["format"] == "json":
            out = {"missing": list(found.missing), "areas": [r.as_dict() for r in found.reports]}
            self.stdout.write(json.dumps(out, indent=2, allow_nan=False))
        else:
            self.stdout.write(text(found))


def _action(ident: str) -> Any:
    from uuid import UUID

    from csp_platform.plans.models import Action

    try:
        key = {"uuid": UUID(ident)} if not ident.isdigit() else {"pk": int(ident)}
    except ValueError as e:
        raise BadQuery(f"--action takes an action's UUID or number, not {ident!r}") from e
    action = Action.objects.filter(**key).first()
    if action is None:
        raise BadQuery(f"no plan action {ident!r}")
    return action


def text(found: ActionEvaluation) -> str:
    if found.missing:
        return found.verdict
    return "\n\n".join(_report(r) for r in found.reports)


def _report(r: EvaluationReport) -> str:
    res = r.result
    lines = [
        f"Evaluation: {r.what} in {r.area.label}, action started {r.start:%Y-%m} "
        f"({r.period_words}).",
        res.verdict,
    ]
    if res.comparison:
        lines.append(
            f"Comparison areas ({len(res.comparison)} of {r.candidates} candidates, closest "
            f"in level and trend before the start): {', '.join(res.comparison)}."
        )
    if res.counts:
        rows = [
            {"series": name, "before": f"{b:,.0f}", "after": f"{a:,.0f}"}
            for name, (b, a) in res.counts.items()
        ]
        lines.append(render(rows, ["series", "before", "after"], "table"))
    if res.did is not None:
        d = res.did
        lines.append(
            f"Rate ratio against the comparison {d.ratio:.3f} (95% interval {d.ci_low:.3f} "
            f"to {d.ci_high:.3f}), p = {d.p_value:.4f}, dispersion {d.phi:.2f}."
        )
    if res.displacement is not None:
        w = res.displacement
        wdq = "undefined" if w.wdq is None else f"{w.wdq:.2f}"
        lines.append(f"Weighted displacement quotient {wdq}: {w.words}.")
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
