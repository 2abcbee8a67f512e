"""A plan back out as the partnership's own tables: XLSX (openpyxl) and DOCX (python-docx).

The layout is the original's: for a delivery plan, each priority's heading and then, for
each objective, a table ``Objective | Action | Update/Comments | Q1 | Q2 | Q3 | Q4 | Lead``
with the objective written on its first row only; for a plan of themes, ``Theme | Action``;
for a scrutiny plan, ``Recommendation | Proposed action | Post title | Budget cost |
Timescale``. Update/Comments is the newest update's commentary; Q1-Q4 are the statuses
(word and symbol) of the latest financial year that has any.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from docx import Document
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from csp_platform.plans.models import Action, Plan, Rag
from csp_platform.plans.selectors import recommendations_of

DELIVERY_COLUMNS = [
    "Objective", "Action", "Update/ Comments", "Q1", "Q2", "Q3", "Q4", "Lead Organisation",
]  # fmt: skip
THEME_COLUMNS = ["Theme", "Action"]
SCRUTINY_COLUMNS = [
    "Scrutiny recommendation", "Proposed action", "Post title", "Budget cost", "Timescale",
]  # fmt: skip
# The symbol that goes with each status word, so a printed table never relies on colour.
RAG_SYMBOL = {
    Rag.RED: "✕",
    Rag.AMBER: "!",
    Rag.GREEN: "✓",
    Rag.BLUE: "★",
    Rag.NOT_STARTED: "○",
}


def rag_text(rag: str) -> str:
    """A status as printed: symbol and word ("✓ Green: on track")."""
    if not rag:
        return ""
    return f"{RAG_SYMBOL[Rag(rag)]} {Rag(rag).label}"


def lead_of(action: Action) -> str:
    """The lead as written, or the organisations and officer."""
    if action.lead_text:
        return action.lead_text
    names = [o.name for o in action.lead_organisations.all()]
    if action.lead_officer:
        names.append(action.lead_officer)
    return " / ".join(names)


def _quarters(action: Action) -> list[str]:
    updates = [u for u in action.updates.all() if u.rag and u.quarter]
    if not updates:
        return ["", "", "", ""]
    years = [u.fiscal_year for u in updates if u.fiscal_year]
    year = max(years) if years else None
    cells = ["", "", "", ""]
    for u in sorted(updates, key=lambda u: u.entered_at):
        if u.fiscal_year == year and u.quarter:
            cells[u.quarter - 1] = rag_text(u.rag)
    return cells


def _comment(action: Action) -> str:
    for update in action.updates.all():
        if update.commentary:
            return update.commentary
    return ""


@dataclass
class Section:
    heading: str
    columns: list[str]
    rows: list[list[str]]


def plan_sections(plan: Plan) -> list[Section]:
    """The plan's tables, in order, as text (one source for both formats)."""
    sections: list[Section] = []
    if plan.kind == Plan.Kind.SCRUTINY:
        rows = [
            [
                f"{r.letter}) {r.recommendation}" if r.letter else r.recommendation,
                r.proposed_action,
                r.post_title,
                r.budget_cost,
                r.timescale,
            ]
            for r in recommendations_of(plan)
        ]
        return [Section("", SCRUTINY_COLUMNS, rows)]
    actions = list(
        plan.actions.select_related("objective__priority", "theme__priority")
        .prefetch_related("lead_organisations", "updates")
        .order_by("order", "id")
    )
    priorities = list(plan.priorities.order_by("order", "number", "id"))
    headings = {
        p.pk: (f"Priority {p.number} - {p.title}" if p.number else p.title) for p in priorities
    }
    by_priority: dict[int | None, list[Action]] = {}
    for action in actions:
        parent = action.objective or action.theme
        pid = parent.priority_id if parent is not None else None
        by_priority.setdefault(pid, []).append(action)
    order = [p.pk for p in priorities if p.pk in by_priority]
    if None in by_priority:
        order.append(None)  # type: ignore[arg-type]
    for pid in order:
        heading = (
            headings.get(pid, "Not placed under a priority")
            if pid
            else ("Not placed under a priority")
        )
        group = by_priority[pid]
        if plan.kind == Plan.Kind.STRATEGY:
            rows = [[a.theme.name if a.theme else "", a.text] for a in group]
            sections.append(Section(heading, THEME_COLUMNS, rows))
            continue
        # One table per objective, the objective on its first row only.
        tables: dict[int, list[list[str]]] = {}
        names: dict[int, str] = {}
        for action in group:
            key = action.objective_id or 0
            first = key not in tables
            names.setdefault(key, action.objective.text if action.objective else "")
            tables.setdefault(key, []).append(
                [
                    names[key] if first else "",
                    action.text,
                    _comment(action),
                    *_quarters(action),
                    lead_of(action),
                ]
            )
        for i, rows in enumerate(tables.values()):
            sections.append(Section(heading if i == 0 else "", DELIVERY_COLUMNS, rows))
    return sections


def plan_xlsx(plan: Plan) -> bytes:
    """The plan as a workbook: one sheet, the title, then each heading and table."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Plan"
    sheet.append([plan.title])
    sheet["A1"].font = Font(bold=True, size=14)
    for section in plan_sections(plan):
        sheet.append([])
        if section.heading:
            sheet.append([section.heading])
            sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=12)
        sheet.append(section.columns)
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for row in section.rows:
            sheet.append(row)
            for cell in sheet[sheet.max_row]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = [40, 60, 70, 12, 12, 12, 12, 30]
    for i, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def plan_docx(plan: Plan) -> bytes:
    """The plan as a Word document: the title, each heading, and each table."""
    document = Document()
    document.add_heading(plan.title, level=1)
    for section in plan_sections(plan):
        if section.heading:
            document.add_heading(section.heading, level=2)
        table = document.add_table(rows=1, cols=len(section.columns))
        table.style = "Table Grid"
        for cell, name in zip(table.rows[0].cells, section.columns, strict=True):
            cell.text = name
            for run in cell.paragraphs[0].runs:
                run.font.bold = True
        for row in section.rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = value
                for paragraph in cell.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(9)
        document.add_paragraph("")
    out = BytesIO()
    document.save(out)
    return out.getvalue()
