"""SMART check of a plan's action: rule-based and explainable (docs/analytics/smart-check.md).

An action is checked against five criteria. For each one it lacks, the check gives the rule
that failed, the reason in words, and the words of the action that caused it (or says that
the words are missing). No Django here: the platform builds an :class:`ActionTexts` from the
database (``csp_platform/plans/smart.py``).

>>> gaps = check(ActionTexts(text="Work ongoing", timescale="Ongoing",
...                          lead_organisations=("MBC",), priority="Feeling safe"))
>>> [g.criterion for g in gaps]
['specific', 'measurable', 'assignable', 'time-bound']
>>> gaps[0].quote
'ongoing'
>>> check(ActionTexts(text="Publish the Domestic Abuse Strategy", timescale="March 2023",
...       due_date=date(2023, 3, 31), lead_organisations=("MBC",),
...       lead_officer="DA and SV lead", priority="Reduce domestic violence"))
[]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

CRITERIA: tuple[str, ...] = ("specific", "measurable", "assignable", "relevant", "time-bound")

# S1: words that describe an activity without an end, so nothing is ever delivered.
OPEN_ENDED: tuple[str, ...] = (
    r"on-?going",
    r"continue(?:d|s)?",
    r"continuing",
    r"continuation",
    r"as and when",
    r"where possible",
    r"kept informed",
    r"keep \w+ informed",
    r"consider",
    r"explore",
)
# S3: words that open an action describing a way of working rather than a deliverable.
PROCESS_OPENINGS: tuple[str, ...] = (
    "working with",
    "work with",
    "supporting",
    "support",
    "regular",
    "encouraging",
    "encourage",
    "engagement with",
    "monitor",
    "monitoring",
    "participation in",
    "building on",
    "ensuring",
    "ensure",
)
# Verbs (and their nouns) that commit to doing or producing something (S2).
ACTION_WORDS: tuple[str, ...] = (
    "introduce", "introduction", "develop", "development", "deliver", "delivering", "set up",
    "review", "create", "establish", "commission", "implement", "launch", "publish",
    "increase", "reduce", "formalise", "rebuild", "rebuilding", "reintroduce", "produce",
    "write", "written", "promote", "arrange", "initiate", "fund", "collate", "collating",
    "developing", "organised", "arranging", "draft",
    "re-establish", "re-establishing", "organise", "sign up", "install", "train", "recruit",
)  # fmt: skip
# M3: verbs of making: an output word counts as a measure only when the action makes it
# ("Develop ... Strategy", "briefing session will be organised"), not when it merely names
# something that exists ("Supporting locality working teams").
MAKING_WORDS: tuple[str, ...] = (
    "introduce", "introduced", "introduction", "develop", "developing", "development",
    "set up", "create", "created", "creating", "establish", "commission", "launch", "publish",
    "produce", "write", "written", "draft", "drafted", "initiate", "organise", "organised",
    "arrange", "arranging", "formalise", "rebuild", "rebuilding", "re-establish",
    "re-establishing", "will take place", "will run", "deliver", "delivering",
)  # fmt: skip
# M3: outputs that exist or not once the action is done: a named output is its own measure.
NAMED_OUTPUTS: tuple[str, ...] = (
    "action plan", "plan", "strategy", "strategies", "protocol", "panel", "statement",
    "assessment", "briefing", "session", "report", "database", "dashboard", "campaign",
    "programme", "framework", "pledge", "product", "package", "policy", "survey", "surveys",
    "team", "post", "profile", "pathway", "template", "steering group", "multi-agency group",
)  # fmt: skip
# M2: a stated quantity or target.
_QUANTITY = re.compile(
    r"(?P<q>\d+(?:\.\d+)?\s*(?:%|per ?cent)"
    r"|\b(?:reduce|reduced|reducing|increase|increased|increasing|cut|raise|improve)\b"
    r"[^.;]{0,80}?\bby\s+\d[\d,.]*\s*(?:%|per ?cent)?"
    r"|\b(?:at least|no more than|no fewer than|a target of|target of|up to)\s+\d[\d,]*"
    r"|\b\d[\d,]*\s+(?:more|fewer|additional|new)\b"
    r"|\b\d[\d,]*\s+per\s+\w+"
    r"|\b(?:daily|weekly|fortnightly|monthly|quarterly|annual|yearly)\s+(?:[\w&]+\s+){0,2}?"
    r"(?:reports?|reporting|updates?|meetings?|briefings?))",
    re.IGNORECASE,
)
# M1 explanation: words that promise a change but say not by how much.
_CHANGE_WITHOUT_AMOUNT = re.compile(
    r"\b(?:increase|increased|reduce|reducing|improve|improving|strengthen|strengthening"
    r"|enhance|maximise|greater)\b",
    re.IGNORECASE,
)
# T: timescales that set no date.
NO_DATE_TIMESCALES: tuple[str, ...] = (
    r"on-?going", r"tbc", r"tba", r"to be confirmed", r"to be agreed", r"as and when",
    r"continuous", r"n/?a", r"\?+", r"-+", r"various", r"regular(?:ly)?", r"annual(?:ly)?",
    r"monthly", r"quarterly", r"weekly",
)  # fmt: skip
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_IN_TIMESCALE = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{4}}|q[1-4]\b|quarter\s+[1-4]|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}"
    rf"|(?:19|20)\d{{2}}(?:[/-]\d{{2,4}})?)",
    re.IGNORECASE,
)
# T2: a deadline stated in the action's own words ("by March 2023", "due to be written in
# 2024"). A past event ("was conducted in January 2024") is not a deadline.
_DEADLINE_IN_TEXT = re.compile(
    rf"\b(?:by|before|no later than|within|during|due\b[^.;]{{0,40}}?\bin)\s+"
    rf"(?:the end of\s+)?(?:(?:{_MONTHS})\.?\s+)?(?:(?:19|20)\d{{2}}(?:[/-]\d{{2,4}})?|q[1-4]\b"
    rf"|\d+\s+(?:weeks?|months?))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ActionTexts:
    """What the check reads of an action: its words and its links, nothing else.

    ``text`` is the action as written (for a scrutiny recommendation, its proposed action);
    ``lead_organisations`` the names of the organisations linked as leads; ``lead_officer``
    a named officer or post title; ``priority`` the title of the plan priority it is linked
    to ("" when none); ``indicators`` the names of linked indicators.
    """

    text: str
    timescale: str = ""
    due_date: date | None = None
    lead_organisations: tuple[str, ...] = ()
    lead_officer: str = ""
    lead_text: str = ""
    priority: str = ""
    indicators: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gap:
    """A criterion an action lacks: which rule, why in words, and the words that caused it
    (``quote`` is "" when the gap is that something is missing)."""

    criterion: str
    rule: str
    reason: str
    quote: str = ""


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _find_phrase(text: str, patterns: tuple[str, ...]) -> str:
    """The first of ``patterns`` found in ``text`` as whole words, as written there."""
    best: re.Match[str] | None = None
    for pattern in patterns:
        m = re.search(rf"(?<![\w-])(?:{pattern})(?![\w-])", text, re.IGNORECASE)
        if m and (best is None or m.start() < best.start()):
            best = m
    return best.group(0) if best else ""


def _has_word(text: str, words: tuple[str, ...]) -> str:
    """The first of ``words`` (or its plural in -s) in ``text``, as written there."""
    return _find_phrase(text, tuple(re.escape(w) + "s?" for w in words))


def named_output(text: str) -> str:
    """The output the action makes, if it names one (rule M3), as written; "" if none.

    Either a verb of making and an output word ("Develop Cleveland-wide Retail Crime
    Strategy"), or a title of at most 12 words that ends with an output word ("People Feel
    Safe Action Plan").

    >>> named_output("Set up a stop search scrutiny panel")
    'panel'
    >>> named_output("Healthier Population Action Plan.")
    'Action Plan'
    >>> named_output("Supporting locality working teams around cohesion")
    ''
    """
    text = _flat(text)
    output = _has_word(text, NAMED_OUTPUTS)
    if not output:
        return ""
    if _has_word(text, MAKING_WORDS):
        return output
    words = re.findall(r"[\w'-]+", text)
    last = _find_phrase(text.rstrip(" .'\""), tuple(re.escape(w) + r"s?$" for w in NAMED_OUTPUTS))
    return last if len(words) <= 12 and last else ""


def specific_gap(a: ActionTexts) -> Gap | None:
    """Specific: a concrete deliverable, not an open-ended activity or a bare topic.

    >>> specific_gap(ActionTexts(text="Continue to use partnership forums")).rule
    'S1'
    >>> specific_gap(ActionTexts(text="Volunteering")).rule
    'S2'
    >>> specific_gap(ActionTexts(text="Working with disadvantaged communities")).rule
    'S3'
    >>> specific_gap(ActionTexts(text="Develop drone capacity")) is None
    True
    """
    text = _flat(a.text)
    if not text:
        return Gap("specific", "S0", "The action has no words at all.")
    phrase = _find_phrase(text, OPEN_ENDED)
    if phrase:
        return Gap(
            "specific",
            "S1",
            f"Open-ended wording: '{phrase}' describes an activity with no end point, "
            "not a deliverable that will be finished.",
            phrase,
        )
    words = re.findall(r"[\w'-]+", text)
    if len(words) <= 3 and not _has_word(text, ACTION_WORDS) and not named_output(text):
        return Gap(
            "specific",
            "S2",
            "A topic, not an action: it names a subject but no verb or deliverable "
            "says what will be done.",
            text,
        )
    opening = next(
        (p for p in PROCESS_OPENINGS if re.match(rf"{re.escape(p)}\b", text, re.IGNORECASE)),
        "",
    )
    if opening and not named_output(text):
        return Gap(
            "specific",
            "S3",
            f"Describes a way of working ('{text[: len(opening)]}') and names no "
            "deliverable (a plan, strategy, panel, report, ...).",
            text[: len(opening)],
        )
    return None


def measurable_gap(a: ActionTexts) -> Gap | None:
    """Measurable: a linked indicator, a stated quantity, or a named output.

    >>> measurable_gap(ActionTexts(text="Increase the no. of CCTV cameras")).quote
    'Increase'
    >>> measurable_gap(ActionTexts(text="Reduce repeat callers by 10%")) is None
    True
    >>> measurable_gap(ActionTexts(text="Develop Cleveland-wide Retail Crime Strategy")) is None
    True
    >>> measurable_gap(ActionTexts(text="Promote ASB Case Review process")).rule
    'M0'
    >>> measurable_gap(ActionTexts(text="Develop drone capacity", indicators=("Drone uses",)))
    """
    if a.indicators:
        return None
    text = _flat(a.text)
    if _QUANTITY.search(text) or named_output(text):
        return None
    change = _CHANGE_WITHOUT_AMOUNT.search(text)
    if change:
        return Gap(
            "measurable",
            "M1",
            f"Promises a change ('{change.group(0)}') but not by how much or against what "
            "baseline, and no indicator is linked.",
            change.group(0),
        )
    return Gap(
        "measurable",
        "M0",
        "No indicator is linked and the action states no measure: no number, percentage, "
        "target or named output to show it was done.",
    )


def assignable_gap(a: ActionTexts) -> Gap | None:
    """Assignable: a lead organisation AND a named officer or post.

    >>> assignable_gap(ActionTexts(text="x", lead_organisations=("MBC",))).rule
    'A2'
    >>> assignable_gap(ActionTexts(text="x", lead_officer="Community Safety Manager")).rule
    'A1'
    >>> assignable_gap(ActionTexts(text="x")).rule
    'A0'
    """
    has_org = bool(a.lead_organisations)
    has_officer = bool(a.lead_officer.strip())
    if has_org and has_officer:
        return None
    written = _flat(a.lead_text)
    if not has_org and not has_officer:
        return Gap(
            "assignable",
            "A0",
            "No lead at all: neither a lead organisation nor a named officer or post."
            + (f" The lead written ('{written}') matched no organisation." if written else ""),
            written,
        )
    if not has_org:
        return Gap(
            "assignable",
            "A1",
            f"A post ('{_flat(a.lead_officer)}') but no lead organisation is linked.",
            _flat(a.lead_officer),
        )
    orgs = ", ".join(a.lead_organisations)
    return Gap(
        "assignable",
        "A2",
        f"Led by an organisation ({orgs}) but no named officer or post is accountable.",
        written or orgs,
    )


def relevant_gap(a: ActionTexts) -> Gap | None:
    """Relevant: linked to a priority of the plan.

    >>> relevant_gap(ActionTexts(text="x")).rule
    'R0'
    >>> relevant_gap(ActionTexts(text="x", priority="Feeling safe")) is None
    True
    """
    if a.priority.strip():
        return None
    return Gap(
        "relevant",
        "R0",
        "Not linked to any priority of the plan, so nothing shows which priority it serves.",
    )


def time_bound_gap(a: ActionTexts) -> Gap | None:
    """Time-bound: a due date, or a timescale naming a date or quarter.

    >>> time_bound_gap(ActionTexts(text="x", timescale="Ongoing")).rule
    'T1'
    >>> time_bound_gap(ActionTexts(text="x", timescale="TBC")).quote
    'TBC'
    >>> time_bound_gap(ActionTexts(text="x")).rule
    'T0'
    >>> time_bound_gap(ActionTexts(text="Needs assessment due to be written in 2024"))
    >>> time_bound_gap(ActionTexts(text="x", timescale="Q3 2022")) is None
    True
    """
    timescale = _flat(a.timescale)
    if a.due_date is not None:
        return None
    if timescale:
        if re.fullmatch(rf"(?:{'|'.join(NO_DATE_TIMESCALES)})\.?", timescale, re.IGNORECASE):
            return Gap(
                "time-bound",
                "T1",
                f"The timescale '{timescale}' sets no date or quarter by which it is done.",
                timescale,
            )
        if _DATE_IN_TIMESCALE.search(timescale):
            return None
        return Gap(
            "time-bound",
            "T2",
            f"The timescale '{timescale}' names no date, month, quarter or year.",
            timescale,
        )
    if _DEADLINE_IN_TEXT.search(_flat(a.text)):
        return None
    return Gap(
        "time-bound",
        "T0",
        "No timescale or due date is given, and the action's words set no deadline.",
    )


_RULES = (specific_gap, measurable_gap, assignable_gap, relevant_gap, time_bound_gap)


def check(a: ActionTexts) -> list[Gap]:
    """Every criterion the action lacks, in SMART order (empty: the action is SMART)."""
    return [gap for rule in _RULES if (gap := rule(a)) is not None]


def summary(results: list[list[Gap]]) -> dict[str, int]:
    """How many of the actions lack each criterion.

    >>> summary([[Gap("specific", "S1", "r")], []])["specific"]
    1
    """
    counts = dict.fromkeys(CRITERIA, 0)
    for gaps in results:
        for gap in gaps:
            counts[gap.criterion] += 1
    return counts
