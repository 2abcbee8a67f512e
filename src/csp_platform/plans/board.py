"""The board report: a plan's progress by priority, RAG counts, exceptions, indicators against
target and outcome verdicts, as one value the HTML page and the DOCX download both render
(the same figures, the same code: docs/plans.md, "The board report")."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from docx import Document
from docx.shared import Pt

from csp_platform.analysis.evaluation import ActionEvaluation, action_missing, evaluation_for_action
from csp_platform.core.models import Membership
from csp_platform.plans import selectors
from csp_platform.plans.exports import RAG_SYMBOL
from csp_platform.plans.indicators import IndicatorReport, indicator_report
from csp_platform.plans.models import Action, Indicator, Plan, Rag

RAG_ORDER = (Rag.RED, Rag.AMBER, Rag.GREEN, Rag.BLUE, Rag.NOT_STARTED)
# Symbols beside every RAG word (never colour alone).
RAG_ICON: dict[str, str] = {str(k): v for k, v in RAG_SYMBOL.items()} | {"": "–"}


def rag_words(code: str) -> str:
    """ "✗ Red: off track"; "– No status yet" for an action never updated."""
    label = Rag(code).label if code else "No status yet"
    return f"{RAG_ICON.get(code, '–')} {label}"


@dataclass(frozen=True)
class PriorityRow:
    title: str
    actions: int
    rag_counts: tuple[tuple[str, int], ...]  # (rag code, count) in RAG_ORDER, then no status


@dataclass(frozen=True)
class Exception_:
    action: Action
    rag: str
    overdue: bool
    lead: str
    due: str
    latest: str

    @property
    def why(self) -> str:
        parts = []
        if self.rag in (Rag.RED, Rag.AMBER):
            parts.append(rag_words(self.rag))
        if self.overdue:
            parts.append(f"overdue (due {self.due})")
        return "; ".join(parts)


@dataclass(frozen=True)
class Outcome:
    action: Action
    rag: str
    evaluation: ActionEvaluation


@dataclass(frozen=True)
class BoardReport:
    plan: Plan
    today: date
    priorities: tuple[PriorityRow, ...]
    totals: tuple[tuple[str, int], ...]
    exceptions: tuple[Exception_, ...]
    indicators: tuple[IndicatorReport, ...]
    outcomes: tuple[Outcome, ...]
    not_evaluated: int

    @property
    def action_count(self) -> int:
        return sum(n for _, n in self.totals)


def _counts(actions: list[Action]) -> tuple[tuple[str, int], ...]:
    found = Counter(selectors.current_rag(a) for a in actions)
    return tuple((code, found.get(code, 0)) for code in (*RAG_ORDER, ""))


def _lead(action: Action) -> str:
    names = [o.name for o in action.lead_organisations.all()]
    return ", ".join(names) or action.lead_text or "No lead"


def _due(action: Action) -> str:
    if action.due_date is not None:
        return f"{action.due_date.day} {action.due_date:%B %Y}"
    return action.timescale or "no date"


def board_report(membership: Membership, plan: Plan, today: date) -> BoardReport:
    """Everything the board sees for ``plan`` (of the member's partnership) on ``today``."""
    tree = selectors.plan_tree(plan, selectors.PlanFilters(today=today))
    rows, every = [], []
    for node in tree:
        actions = [a for o in node.objectives for a in o.actions]
        every += actions
        title = node.priority.title if node.priority else "Not placed under a priority"
        rows.append(PriorityRow(title, len(actions), _counts(actions)))
    exceptions = []
    for a in every:
        rag, overdue = selectors.current_rag(a), selectors.is_overdue(a, today)
        if rag in (Rag.RED, Rag.AMBER) or overdue:
            update = selectors.latest_update(a)
            exceptions.append(
                Exception_(
                    a, rag, overdue, _lead(a), _due(a),
                    update.commentary if update else "",
                )
            )  # fmt: skip
    indicators = Indicator.objects.filter(partnership_id=membership.partnership_id)
    outcomes = [
        Outcome(a, selectors.current_rag(a), evaluation_for_action(a))
        for a in every
        if not action_missing(a)
    ]
    return BoardReport(
        plan, today, tuple(rows), _counts(every), tuple(exceptions),
        tuple(indicator_report(i) for i in indicators.select_related("owner")),
        tuple(outcomes), len(every) - len(outcomes),
    )  # fmt: skip


# ----------------------------------------------------------------------------------------
# DOCX


def _table(doc: Any, head: list[str], rows: list[list[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(head))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, head):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row):
            cell.text = text


def _rag_head() -> list[str]:
    return [rag_words(c) for c in (*RAG_ORDER, "")]


def board_docx(report: BoardReport) -> bytes:
    """The board report as a Word document (python-docx), the same sections as the page."""
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10)
    doc.add_heading(f"Board report: {report.plan.title}", 0)
    doc.add_paragraph(
        f"{report.plan.partnership.name}. Report date {report.today:%d %B %Y}. "
        f"{report.action_count} actions. RAG statuses are the latest quarterly update of each "
        "action; each is given in words with a symbol."
    )
    doc.add_heading("Progress by priority", 1)
    _table(
        doc, ["Priority", "Actions", *_rag_head()],
        [[r.title, str(r.actions), *[str(n) for _, n in r.rag_counts]] for r in report.priorities]
        + [["All priorities", str(report.action_count), *[str(n) for _, n in report.totals]]],
    )  # fmt: skip
    doc.add_heading("Exceptions: red, amber and overdue actions", 1)
    if report.exceptions:
        _table(
            doc, ["Action", "Why", "Lead", "Latest update"],
            [[e.action.text, e.why, e.lead, e.latest] for e in report.exceptions],
        )  # fmt: skip
    else:
        doc.add_paragraph("No action is red, amber or overdue.")
    doc.add_heading("Indicators against target", 1)
    if report.indicators:
        _table(doc, ["Indicator", "Latest", "Target", "Status", "Compared with the force"],
               [_indicator_row(i) for i in report.indicators])  # fmt: skip
    else:
        doc.add_paragraph("No indicators are defined.")
    doc.add_heading("Did it work? Outcome verdicts", 1)
    if report.outcomes:
        rows = [[o.action.text, rag_words(o.rag), o.evaluation.verdict] for o in report.outcomes]
        _table(doc, ["Action", "Delivery", "Outcome"], rows)
    doc.add_paragraph(
        f"{report.not_evaluated} actions have no area, start date or incident categories, so "
        "their outcome cannot be evaluated from incident data."
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _indicator_row(r: IndicatorReport) -> list[str]:
    i = r.indicator
    latest = "No data" if r.latest is None else f"{r.latest.label}: {_num(r.latest.value)}"
    target = (
        "None"
        if i.target is None
        else f"{_num(float(i.target))} ({i.get_direction_display().lower()})"
    )
    force = r.comparison.words if r.comparison else ""
    return [i.name, latest, target, r.rag.label, force]


def _num(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"
