"""Reading a plan as the partnership writes it: the tab-separated text of its Word tables.

Pure functions, no database: :func:`parse_plan` turns a file's text into a
:class:`ParsedPlan` (or raises ``ImportRejected`` naming the file and line), and the
service (``plans.services.plan_import``) writes it. Three layouts are recognised by their
header rows (docs/plans.md, "Import rules"):

- a delivery plan: ``Objective  Action  Update/ Comments  Q1  Q2  Q3  Q4  Lead Organisation``
  (or ``Lead Officer``), repeated before each objective's table, with the priorities and
  their objectives listed above the first table as ``Priority N - title`` and ``- bullet``
  lines;
- a scrutiny action plan: ``SCRUTINY RECOMMENDATION  PROPOSED ACTION  POST TITLE  BUDGET
  COST  TIMESCALE``;
- "This is what we need to do" tables: ``Theme  Action``, the themes placed under the
  document's priority headings.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from html import unescape
from html.parser import HTMLParser

from csp_platform.core.errors import ImportRejected

# ----------------------------------------------------------------------------------------
# Cleaning the cells


class _Text(HTMLParser):
    """HTML fragments (``<p>``, ``<ul><li>``, ``<u>``) to plain text: paragraphs and list
    items on lines of their own, list items marked "• "."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"p", "ul", "ol", "br", "div"}:
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"p", "ul", "ol", "li", "div"}:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def clean_cell(raw: str) -> str:
    """A cell's text made readable: HTML tags removed (paragraphs and list items on their
    own lines, bullets as "• "), entities decoded, spaces collapsed; the words unchanged."""
    if "<" in raw:
        parser = _Text()
        parser.feed(raw)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = unescape(raw)
    # Inline bullets ("... • Maintaining ... • Identifying") each start a line.
    text = re.sub(r"\s*•\s*", "\n• ", text)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line in {"", "•"}:
            continue
        out.append(line)
    return "\n".join(out)


# ----------------------------------------------------------------------------------------
# Dates and quarters

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTH_YEAR = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{4}|\d{2})\b")
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?\s+(\d{4})\b")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_UK = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_QUARTER = re.compile(r"\bQ([1-4])\s+(\d{4})\s*[-/]\s*(\d{2,4})\b", re.IGNORECASE)


def parse_due_date(text: str) -> date | None:
    """The date a timescale names, or None ("Ongoing", "TBC", "N/A").

    Accepted: "31 March 2022", "March 2022" or "Mar 22" (the month's last day),
    "2022-03-31", "31/03/2022", "Q3 2022-23" (the quarter's last day, financial year from
    April). The first date found is taken; anything else gives None, never a guess.
    """
    text = text.strip()
    for pattern, order in ((_ISO, (1, 2, 3)), (_UK, (3, 2, 1))):
        m = pattern.search(text)
        if m:
            try:
                return date(int(m[order[0]]), int(m[order[1]]), int(m[order[2]]))
            except ValueError:
                return None
    m = _DAY_MONTH_YEAR.search(text)
    if m and m[2].lower() in _MONTHS:
        try:
            return date(int(m[3]), _MONTHS[m[2].lower()], int(m[1]))
        except ValueError:
            return None
    m = _QUARTER.search(text)
    if m:
        q, start = int(m[1]), int(m[2])
        year, month = (start, 3 * q + 3) if q < 4 else (start + 1, 3)
        return date(year, month, calendar.monthrange(year, month)[1])
    m = _MONTH_YEAR.search(text)
    if m and m[1].lower() in _MONTHS:
        year = int(m[2]) + (2000 if len(m[2]) == 2 else 0)
        month = _MONTHS[m[1].lower()]
        return date(year, month, calendar.monthrange(year, month)[1])
    return None


def fiscal_quarter(day: date) -> tuple[int, int]:
    """(financial year starting April, quarter 1-4) of a day: May 2021 -> (2021, 1)."""
    year = day.year if day.month >= 4 else day.year - 1
    return year, (day.month - 4) % 12 // 3 + 1


def quarter_label(fiscal_year: int, quarter: int) -> str:
    """ "2021-22 Q1"."""
    return f"{fiscal_year}-{(fiscal_year + 1) % 100:02d} Q{quarter}"


# ----------------------------------------------------------------------------------------
# Matching words: objectives to priorities, themes to headings, leads to organisations

_STOP = {
    "a",
    "an",
    "and",
    "the",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "by",
    "inc",
    "including",
    "not",
    "whilst",
    "its",
    "their",
    "our",
    "all",
    "be",
    "is",
    "are",
    "that",
    "this",
}
# Abbreviations written in the seed plans, expanded before comparing.
_EXPAND = {"asb": "anti social behaviour", "env": "environmental", "enviro": "environmental"}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith("ss") and suffix in {"es", "s"}:
            continue
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The content words of a phrase, for matching: lower case, "&" and hyphens dropped
    ("re-offending" = "reoffending", "anti-social" = "antisocial" = "anti social"),
    abbreviations expanded (ASB), stop words removed, plural and -ing/-ed endings cut."""
    text = text.lower().replace("&", " and ")
    text = re.sub(r"(?<=\w)-(?=\w)", "", text)
    out: list[str] = []
    for token in re.findall(r"[a-z0-9]+", text):
        for part in _EXPAND.get(token, token).split():
            if part == "antisocial":
                out.extend(["anti", "social"])
            elif part not in _STOP:
                out.append(_stem(part))
    return out


def _same(a: str, b: str) -> bool:
    """Two stemmed words are the same, or one ends the other and is 3+ letters
    ("use" in "misuse")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 3 and long_.endswith(short)


def match_score(a: str, b: str) -> float:
    """Share of the shorter phrase's content words found in the other (0 to 1)."""
    wa, wb = set(words(a)), set(words(b))
    if not wa or not wb:
        return 0.0
    short, long_ = sorted((wa, wb), key=len)
    found = sum(1 for w in short if any(_same(w, v) for v in long_))
    return found / len(short)


MATCH_THRESHOLD = 0.5


def _coverage(a: str, b: str) -> float:
    """Share of all the words of both phrases that the other has (the tie-breaker:
    "Crime" is nearer "Crime" than "Rural Crime Forum")."""
    wa, wb = set(words(a)), set(words(b))
    if not wa or not wb:
        return 0.0
    found = sum(1 for w in wa if any(_same(w, v) for v in wb))
    found += sum(1 for w in wb if any(_same(w, v) for v in wa))
    return found / (len(wa) + len(wb))


def best_match(text: str, candidates: list[str]) -> tuple[int | None, float]:
    """Index of the candidate whose words best match ``text``, and its score.

    The score is :func:`match_score`; it must reach ``MATCH_THRESHOLD``. Equal scores are
    told apart by :func:`_coverage`; candidates equal on both are a tie, and a tie places
    nothing (reported, never guessed)."""
    ranked = [(match_score(text, c), _coverage(text, c)) for c in candidates]
    if not ranked:
        return None, 0.0
    best = max(ranked)
    if best[0] < MATCH_THRESHOLD or ranked.count(best) > 1:
        return None, best[0]
    return ranked.index(best), best[0]


# Names written in the lead columns, and the organisation (slug) each stands for. Compared
# case-insensitively after collapsing spaces; anything not here is reported, never guessed.
LEAD_ALIASES: dict[str, str] = {
    "mbc": "middlesbrough-council",
    "middlesbrough council": "middlesbrough-council",
    "middlesbrough borough council": "middlesbrough-council",
    "cleveland police": "cleveland-police",
    "police": "cleveland-police",
    "cleveland fire": "cleveland-fire-brigade",
    "cleveland fire brigade": "cleveland-fire-brigade",
    "cfb": "cleveland-fire-brigade",
    "rcbc": "redcar-cleveland-council",
    "redcar and cleveland borough council": "redcar-cleveland-council",
    "redcar & cleveland borough council": "redcar-cleveland-council",
    "hbc": "hartlepool-council",
    "hartlepool borough council": "hartlepool-council",
    "sbc": "stockton-council",
    "stockton-on-tees borough council": "stockton-council",
}


def lead_parts(cell: str) -> list[str]:
    """A lead cell split into its names: "MBC/ Cleveland Police" -> ["MBC", "Cleveland
    Police"]; paragraphs of an HTML cell are separate names."""
    text = clean_cell(cell)
    parts: list[str] = []
    for line in text.split("\n"):
        for part in re.split(r"\s*/\s*", line):
            part = part.strip(" .;")
            if part:
                parts.append(part)
    return parts


def lead_alias(name: str) -> str | None:
    return LEAD_ALIASES.get(re.sub(r"\s+", " ", name.strip().lower()))


def looks_like_organisation(name: str) -> bool:
    """An abbreviation ("MB", "YOS") or a one-word place ("Cleveland"): written as an
    organisation, so one we cannot match is reported rather than kept as a post title."""
    return bool(re.fullmatch(r"[A-Z]{2,6}", name)) or bool(re.fullmatch(r"[A-Z][a-z]+", name))


# ----------------------------------------------------------------------------------------
# The parsed plan


@dataclass
class ParsedUpdate:
    commentary: str
    rag: str = ""
    fiscal_year: int | None = None
    quarter: int | None = None


@dataclass
class ParsedAction:
    line: int
    text: str
    objective: int | None = None  # index into ParsedPlan.objectives
    theme: int | None = None  # index into ParsedPlan.themes
    lead_cell: str = ""
    lead_column: str = ""  # "organisation" or "officer"
    budget: str = ""
    timescale: str = ""
    updates: list[ParsedUpdate] = field(default_factory=list)


@dataclass
class ParsedObjective:
    line: int
    text: str
    priority: int | None = None
    priority_text: str = ""
    match_note: str = ""


@dataclass
class ParsedTheme:
    line: int
    name: str
    priority: int | None = None
    match_note: str = ""


@dataclass
class ParsedPriority:
    line: int
    title: str
    number: int | None = None
    description: str = ""
    bullets: list[str] = field(default_factory=list)


@dataclass
class ParsedRecommendation:
    line: int
    letter: str
    recommendation: str
    proposed_action: str
    post_title: str
    budget_cost: str
    timescale: str


@dataclass
class ParsedPlan:
    kind: str  # "delivery", "scrutiny", "strategy"
    title: str
    period_start: date | None = None
    period_end: date | None = None
    priorities: list[ParsedPriority] = field(default_factory=list)
    objectives: list[ParsedObjective] = field(default_factory=list)
    themes: list[ParsedTheme] = field(default_factory=list)
    actions: list[ParsedAction] = field(default_factory=list)
    recommendations: list[ParsedRecommendation] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)  # what the import could not place
    notes: list[str] = field(default_factory=list)  # what it did that a reader should know
    text_head: str = ""  # the lines before the first table (to name the partnership)


DELIVERY_HEADER = ["objective", "action", "update/ comments", "q1", "q2", "q3", "q4"]
SCRUTINY_HEADER = [
    "scrutiny recommendation",
    "proposed action",
    "post title",
    "budget cost",
    "timescale",
]
THEME_HEADER = ["theme", "action"]
_RAG_WORDS = {
    "red": "red",
    "r": "red",
    "amber": "amber",
    "a": "amber",
    "green": "green",
    "g": "green",
    "blue": "blue",
    "b": "blue",
    "complete": "blue",
    "completed": "blue",
    "not started": "not_started",
}


def _cells(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t")


def _norm(cell: str) -> str:
    return re.sub(r"\s+", " ", cell.replace("*", "").strip().lower())


def _is_rule(cells: list[str]) -> bool:
    """A Markdown table rule ("--  ------"): not a row."""
    return all(re.fullmatch(r"\s*:?-{2,}:?\s*", c) or not c.strip() for c in cells) and any(
        "-" in c for c in cells
    )


def _period(text: str) -> tuple[date | None, date | None]:
    """A plan period from "2020-2022" or "2024 - 27" (financial years: April to March)."""
    m = re.search(r"\b(20\d\d)\s*[-–/]\s*(20\d\d|\d\d)\b", text)
    if not m:
        return None, None
    start = int(m[1])
    end = int(m[2]) if len(m[2]) == 4 else 2000 + int(m[2])
    if end <= start:
        return None, None
    return date(start, 4, 1), date(end, 3, 31)


def _heading(line: str) -> str | None:
    m = re.match(r"^\s*#{1,6}\s+(.*)$", line)
    if not m:
        return None
    return m[1].replace("*", "").strip()


def parse_plan(text: str, filename: str) -> ParsedPlan:
    """Parse a plan file's text (see the module docstring); errors name file and line."""
    lines = text.splitlines()
    kinds = set()
    for line in lines:
        head = [_norm(c) for c in _cells(line)]
        if head[: len(DELIVERY_HEADER)] == DELIVERY_HEADER:
            kinds.add("delivery")
        elif head[: len(SCRUTINY_HEADER)] == SCRUTINY_HEADER:
            kinds.add("scrutiny")
        elif head == THEME_HEADER:
            kinds.add("strategy")
    if not kinds:
        raise ImportRejected(
            f"{filename}: no plan table found: expected a header row 'Objective<TAB>Action"
            "<TAB>Update/ Comments<TAB>Q1..Q4<TAB>Lead Organisation', 'SCRUTINY"
            " RECOMMENDATION<TAB>PROPOSED ACTION<TAB>POST TITLE<TAB>BUDGET COST<TAB>TIMESCALE'"
            " or 'Theme<TAB>Action'"
        )
    if len(kinds) > 1:
        raise ImportRejected(f"{filename}: tables of more than one kind of plan in one file")
    kind = kinds.pop()
    if kind == "delivery":
        return _parse_delivery(lines, filename)
    if kind == "scrutiny":
        return _parse_scrutiny(lines, filename)
    return _parse_themes(lines, filename)


def _title_lines(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        if "\t" in line:
            break
        clean = line.replace("*", "").strip().lstrip("#").strip()
        if clean:
            out.append(clean)
    return out


def _parse_delivery(lines: list[str], filename: str) -> ParsedPlan:
    head = _title_lines(lines)
    if not head:
        raise ImportRejected(f"{filename}, line 1: no title before the first table")
    plan = ParsedPlan(kind="delivery", title=head[0], text_head="\n".join(head))
    plan.period_start, plan.period_end = _period(head[0])
    revised = re.search(r"revised\s+([A-Za-z]+\s+\d{4})", head[0], re.IGNORECASE)
    as_at = parse_due_date(revised[1]) if revised else None
    update_quarter = fiscal_quarter(as_at) if as_at else (None, None)

    # The priorities and their objectives, above the first table.
    current: ParsedPriority | None = None
    for number, line in enumerate(lines, start=1):
        if "\t" in line:
            break
        stripped = line.strip()
        m = re.match(r"^Priority\s+(\d+)\s*[-–:]\s*(.+)$", stripped, re.IGNORECASE)
        if m:
            current = ParsedPriority(line=number, title=m[2].strip(), number=int(m[1]))
            plan.priorities.append(current)
        elif current is not None and re.match(r"^[-•*]\s+", stripped):
            current.bullets.append(re.sub(r"^[-•*]\s+", "", stripped))
        elif current is not None and stripped:
            current.description = (current.description + "\n" + stripped).strip()

    bullets = [(i, b) for i, p in enumerate(plan.priorities) for b in p.bullets]
    header: list[str] | None = None
    objective: int | None = None
    for number, line in enumerate(lines, start=1):
        if "\t" not in line:
            if line.strip() and header is not None and not line.strip().startswith("#"):
                raise ImportRejected(
                    f"{filename}, line {number}: text between table rows without tabs:"
                    f" {line.strip()[:60]!r}"
                )
            continue
        cells = _cells(line)
        normed = [_norm(c) for c in cells]
        if normed[: len(DELIVERY_HEADER)] == DELIVERY_HEADER:
            if len(cells) != 8 or normed[7] not in {"lead organisation", "lead officer"}:
                raise ImportRejected(
                    f"{filename}, line {number}: a header row needs 8 columns ending"
                    " 'Lead Organisation' or 'Lead Officer'"
                )
            header = normed
            continue
        if _is_rule(cells):
            continue
        if header is None:
            raise ImportRejected(f"{filename}, line {number}: a table row before any header row")
        if len(cells) > len(header):
            raise ImportRejected(
                f"{filename}, line {number}: {len(cells)} columns, the header has {len(header)}"
            )
        if len(cells) < 3:
            raise ImportRejected(
                f"{filename}, line {number}: {len(cells)} columns: need at least objective,"
                " action and update"
            )
        # A row shorter than the header lost empty quarter cells: its last cell is the lead.
        lead = cells[-1] if len(cells) in (7, 8) else ""
        quarters = cells[3:7] if len(cells) == 8 else cells[3 : len(cells) - 1]
        objective_cell = clean_cell(cells[0])
        action_text = clean_cell(cells[1])
        if objective_cell:
            pi, note = _place_objective(objective_cell, bullets, plan)
            plan.objectives.append(
                ParsedObjective(
                    line=number,
                    text=objective_cell,
                    priority=bullets[pi][0] if pi is not None else None,
                    priority_text=bullets[pi][1] if pi is not None else "",
                    match_note=note,
                )
            )
            objective = len(plan.objectives) - 1
        if not action_text:
            raise ImportRejected(f"{filename}, line {number}: a row with no action")
        if objective is None:
            raise ImportRejected(f"{filename}, line {number}: an action before any objective")
        action = ParsedAction(
            line=number,
            text=action_text,
            objective=objective,
            lead_cell=lead.strip(),
            lead_column="organisation" if header[7] == "lead organisation" else "officer",
        )
        comment = clean_cell(cells[2])
        if comment:
            fy, q = update_quarter
            action.updates.append(ParsedUpdate(commentary=comment, fiscal_year=fy, quarter=q))
        for qi, cell in enumerate(quarters, start=1):
            word = _norm(clean_cell(cell))
            if not word:
                continue
            if word not in _RAG_WORDS:
                raise ImportRejected(
                    f"{filename}, line {number}: Q{qi} {cell.strip()[:30]!r} is not a status"
                    " (Red, Amber, Green, Blue/Complete, Not started)"
                )
            fy = update_quarter[0]
            action.updates.append(
                ParsedUpdate(commentary="", rag=_RAG_WORDS[word], fiscal_year=fy, quarter=qi)
            )
        plan.actions.append(action)
    used = {o.priority_text for o in plan.objectives if o.priority is not None}
    for pi, bullet in bullets:
        if bullet not in used:
            plan.objectives.append(
                ParsedObjective(
                    line=plan.priorities[pi].line,
                    text=bullet,
                    priority=pi,
                    priority_text=bullet,
                    match_note="listed under the priority; no table of actions",
                )
            )
            plan.notes.append(
                f"line {plan.priorities[pi].line}: objective {bullet[:70]!r} of priority"
                f" {plan.priorities[pi].title!r} has no table of actions"
            )
    for o in plan.objectives:
        if o.priority is None:
            plan.unplaced.append(
                f"line {o.line}: objective {o.text[:70]!r} matched no priority's objective"
                f" ({o.match_note})"
            )
    return plan


def _place_objective(
    text: str, bullets: list[tuple[int, str]], plan: ParsedPlan
) -> tuple[int | None, str]:
    index, score = best_match(text, [b for _, b in bullets])
    if index is None:
        return None, f"best word match {score:.0%}, below {MATCH_THRESHOLD:.0%} or tied"
    return index, f"matched {bullets[index][1]!r} ({score:.0%} of words)"


def _parse_scrutiny(lines: list[str], filename: str) -> ParsedPlan:
    head = _title_lines(lines)
    if not head:
        raise ImportRejected(f"{filename}, line 1: no title before the table")
    title = " ".join(h for h in head if not re.search(r"\d{4}", h)).strip() or head[0]
    title = re.sub(r"\s*-\s*$", "", re.sub(r"\s+", " ", title))
    plan = ParsedPlan(kind="scrutiny", title=title[:300], text_head="\n".join(head))
    dated = next((parse_due_date(h) for h in head if parse_due_date(h)), None)
    if dated:
        plan.period_start = dated
    seen_header = False
    for number, line in enumerate(lines, start=1):
        if "\t" not in line:
            if seen_header and line.strip():
                raise ImportRejected(
                    f"{filename}, line {number}: text between table rows without tabs:"
                    f" {line.strip()[:60]!r}"
                )
            continue
        cells = _cells(line)
        if [_norm(c) for c in cells][: len(SCRUTINY_HEADER)] == SCRUTINY_HEADER:
            seen_header = True
            continue
        if _is_rule(cells):
            continue
        if len(cells) != len(SCRUTINY_HEADER):
            raise ImportRejected(
                f"{filename}, line {number}: {len(cells)} columns, the header has"
                f" {len(SCRUTINY_HEADER)}"
            )
        text = clean_cell(cells[0])
        m = re.match(r"^\(?([a-z]{1,3}|\d{1,2})[).]\s+(.*)$", text, re.DOTALL)
        letter, recommendation = (m[1], m[2]) if m else ("", text)
        if not recommendation:
            raise ImportRejected(f"{filename}, line {number}: a row with no recommendation")
        plan.recommendations.append(
            ParsedRecommendation(
                line=number,
                letter=letter,
                recommendation=recommendation.strip(),
                proposed_action=clean_cell(cells[1]),
                post_title=clean_cell(cells[2]),
                budget_cost=clean_cell(cells[3]),
                timescale=clean_cell(cells[4]),
            )
        )
    return plan


def _parse_themes(lines: list[str], filename: str) -> ParsedPlan:
    headings = [(n, h) for n, line in enumerate(lines, start=1) if (h := _heading(line))]
    if not headings:
        raise ImportRejected(f"{filename}, line 1: no heading naming the plan")
    place = headings[0][1]
    body = "\n".join(lines)
    m = re.search(r"Community Safety Plan[^.]*?\b(20\d\d\s*[-–/]\s*\d{2,4})", body)
    years = re.sub(r"\s+", "", m[1]) if m else ""
    small = {"and", "of", "the"}
    place = " ".join(
        w.lower() if w.lower() in small and i else w.capitalize()
        for i, w in enumerate(place.split())
    )
    title = f"{place} Community Safety Plan {years}".strip()
    plan = ParsedPlan(kind="strategy", title=title, text_head=body[:2000])
    plan.period_start, plan.period_end = _period(years)

    in_table = False
    for number, line in enumerate(lines, start=1):
        if "\t" not in line:
            if line.strip():
                in_table = False
            continue
        cells = _cells(line)
        normed = [_norm(c) for c in cells]
        if normed == THEME_HEADER:
            in_table = True
            continue
        if not in_table or _is_rule(cells):
            continue
        if len(cells) != 2:
            raise ImportRejected(
                f"{filename}, line {number}: {len(cells)} columns, a Theme/Action table has 2"
            )
        theme, action = clean_cell(cells[0]), clean_cell(cells[1])
        if not theme or not action:
            raise ImportRejected(f"{filename}, line {number}: a row needs a theme and an action")
        index = next((i for i, t in enumerate(plan.themes) if t.name == theme), None)
        if index is None:
            plan.themes.append(ParsedTheme(line=number, name=theme))
            index = len(plan.themes) - 1
        plan.actions.append(ParsedAction(line=number, text=action, theme=index))
    if not plan.actions:
        raise ImportRejected(f"{filename}: a 'Theme<TAB>Action' header with no rows under it")
    _place_themes(lines, headings, plan)
    return plan


def _place_themes(lines: list[str], headings: list[tuple[int, str]], plan: ParsedPlan) -> None:
    """Put each theme under a priority heading of the document.

    A theme's own heading is the heading whose words best match its name ("Encourage &
    Support Reporting" -> "Encourage & Support the Reporting of Crime"). A priority heading
    is one directly followed by a theme's heading with no text between, or with text
    between that names it as a priority ("... within the Prevention priority"). A theme is
    placed under the nearest priority heading before its own heading.
    """
    names = [h for _, h in headings]
    theme_heading: dict[int, int] = {}
    for ti, theme in enumerate(plan.themes):
        hi, _ = best_match(theme.name, names)
        if hi is not None:
            theme_heading[ti] = hi
    theme_heading_set = set(theme_heading.values())
    priority_headings: list[int] = []
    for hi in range(len(headings) - 1):
        if hi in theme_heading_set or (hi + 1) not in theme_heading_set:
            continue
        start, end = headings[hi][0], headings[hi + 1][0] - 1
        between = " ".join(line.strip() for line in lines[start:end] if line.strip())
        name = headings[hi][1]
        if not between or re.search(rf"\b{re.escape(name)} priority\b", between, re.I):
            priority_headings.append(hi)
    for hi in priority_headings:
        plan.priorities.append(ParsedPriority(line=headings[hi][0], title=headings[hi][1]))
    for ti, theme in enumerate(plan.themes):
        hi = theme_heading.get(ti)
        if hi is None:
            plan.unplaced.append(
                f"line {theme.line}: theme {theme.name!r} matched no heading of the document,"
                " so no priority"
            )
            continue
        before = [pi for pi, ph in enumerate(priority_headings) if ph < hi]
        if not before:
            plan.unplaced.append(
                f"line {theme.line}: theme {theme.name!r} has no priority heading before its"
                f" heading {headings[hi][1]!r}"
            )
            continue
        theme.priority = before[-1]
        theme.match_note = (
            f"heading {headings[hi][1]!r} (line {headings[hi][0]}) under priority"
            f" {plan.priorities[before[-1]].title!r}"
        )
