"""The SMART check on the real seed plans (seeds 000, 001, 002), imported with
``csp import-plan``'s service, against flags written by hand from reading each action.

Each expectation below quotes the action as the partnership wrote it and says why it lacks
what it lacks. Seed 000 has no timescale column at all, so every one of its actions lacks
"time-bound" (the gap a reader sees first); its lead columns name organisations ("MBC",
"Cleveland Police") but no person or post, so they lack "assignable" too.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from csp_platform.core.models import Partnership
from csp_platform.demo.services import partnerships_cleveland_ensure
from csp_platform.plans.services import demo_plans_load
from csp_platform.plans.smart import SmartReport, smart_report
from tests.conftest import SHARED

pytestmark = pytest.mark.django_db

S, M, A, R, T = "specific", "measurable", "assignable", "relevant", "time-bound"

# (seed prefix, line in the seed file): (the action's opening words, the criteria it lacks)
EXPECTED: dict[tuple[str, int], tuple[str, set[str]]] = {
    # "Introduction of AIM to refocus work of Community safety analyst. Ensuring that we develop
    # regular trend analysis ..." - a concrete thing introduced; "regular trend analysis" is no
    # measure; lead "MBC" (no post); no timescale.
    ("000", 37): ("Introduction of AIM to refocus", {M, A, T}),
    # "Monthly reporting of crime stats via performance management framework." - monthly
    # reports are a stated output; lead "MBC/ Cleveland Police", no post; no timescale.
    ("000", 38): ("Monthly reporting of crime stats", {A, T}),
    # "Increase the no. of CCTV cameras across the borough ..." - increase by how many? No
    # number, no indicator.
    ("000", 42): ("Increase the no. of CCTV cameras", {M, A, T}),
    # "Introduce the use of CPN's ... in order to reduce enviro crime." - reduce by how much?
    ("000", 44): ("Introduce the use of CPN's", {M, A, T}),
    # "Regular information sharing of crime & ASB issues" - a way of working, no deliverable,
    # no measure.
    ("000", 47): ("Regular information sharing", {S, M, A, T}),
    # "Cleveland Police to provide monthly updates on crime & ASB" - monthly updates: specific
    # and measurable; but no post and no date.
    ("000", 48): ("Cleveland Police to provide monthly updates", {A, T}),
    # "Working with disadvantaged and otherwise excluded communities" - a way of working.
    ("000", 53): ("Working with disadvantaged", {S, M, A, T}),
    # "Covid-19" - a topic heading, not an action.
    ("000", 58): ("Covid-19", {S, M, A, T}),
    # "Volunteering" - a topic heading, not an action.
    ("000", 59): ("Volunteering", {S, M, A, T}),
    # "Myth busting" - a topic heading.
    ("000", 66): ("Myth busting", {S, M, A, T}),
    # "Set up a stop search scrutiny panel" - a concrete output (the panel); Cleveland Police
    # leads but no post; no date.
    ("000", 70): ("Set up a stop search scrutiny panel", {A, T}),
    # "Consider linking MEAM work to CSP" - "consider" commits to nothing.
    ("000", 83): ("Consider linking MEAM work", {S, M, A, T}),
    # "Ensuring continued commitment to protecting ... (VEMT) children ..." - "continued";
    # the lead column names a post ("Risk and Resilience Manager") but no organisation.
    ("000", 89): ("Ensuring continued commitment to protecting", {S, M, A, T}),
    # "Teeswide DRD post to monitor trends and alerts in drug use" - the lead cell is empty.
    ("000", 101): ("Teeswide DRD post", {M, A, T}),
    # "Deliver the CSP vision for reducing domestic abuse via DASP" - reducing by how much?
    ("000", 111): ("Deliver the CSP vision", {M, A, T}),
    # "People Feel Safe Action Plan" - a named output (the action plan); lead MBC, no post.
    ("000", 119): ("People Feel Safe Action Plan", {A, T}),
    # "Cleveland Police community engagements team to continue to monitor community tensions"
    # - "continue"; monitoring states no measure.
    ("000", 136): ("Cleveland Police community engagements team", {S, M, A, T}),
    # "Introduce Community Impact Statement for retail crime" - concrete output.
    ("000", 141): ("Introduce Community Impact Statement", {A, T}),
    # "Develop approach to tackle begging within the town centre" - an approach is no output
    # that can be counted, and no measure.
    ("000", 153): ("Develop approach to tackle begging", {M, A, T}),
    # Scrutiny a): "Full briefing session will be organised for all elected members." - the
    # briefing is the output; post "Head of Stronger Communities" but no organisation linked;
    # no plan priority; "December 2022" is a date.
    ("001", 10): ("Full briefing session will be organised", {A, R}),
    # Scrutiny c): "These discussions already take place on a monthly basis ..." timescale
    # "Ongoing" - no deliverable stated as a measure, no date.
    ("001", 12): ("These discussions already take place", {M, A, R, T}),
    # Scrutiny f): "Members will be kept informed of progress ..." timescale "Ongoing".
    ("001", 16): ("Members will be kept informed", {S, M, A, R, T}),
    # Redcar & Cleveland: the theme/action table has no lead and no timescale column.
    # "To utilise all enforcement opportunities where possible" - "where possible".
    ("002", 330): ("To utilise all enforcement opportunities", {S, M, A, T}),
    # "Use the MAROB group to maximise the impact ..." - maximise by how much?
    ("002", 331): ("Use the MAROB group", {M, A, T}),
    # "Develop Cleveland-wide Retail Crime Strategy" - concrete, the strategy is the output.
    ("002", 334): ("Develop Cleveland-wide Retail Crime Strategy", {A, T}),
    # "Develop drone capacity" - specific enough, but capacity of what size? no measure.
    ("002", 335): ("Develop drone capacity", {M, A, T}),
    # "Continue to use various partnership forums ..." - "Continue".
    ("002", 336): ("Continue to use various partnership forums", {S, M, A, T}),
    # "The Local Needs Assessment is due to be written in 2024 ..." - the assessment is the
    # output and "in 2024" the deadline; still no lead.
    ("002", 341): ("The Local Needs Assessment is due", {A}),
    # "Explore arranging an awareness session ..." - "Explore" commits to nothing, though the
    # session would be an output.
    ("002", 350): ("Explore arranging an awareness session", {S, A, T}),
}

SEEDS = {"000": "middlesbrough", "001": "middlesbrough", "002": "redcar-cleveland"}


@pytest.fixture
def reports() -> dict[str, SmartReport]:
    partnerships_cleveland_ensure()
    demo_plans_load(SHARED / "seeds")
    return {
        slug: smart_report(Partnership.objects.get(slug=slug))
        for slug in ("middlesbrough", "redcar-cleveland")
    }


def _row(reports: dict[str, SmartReport], prefix: str, line: int):  # type: ignore[no-untyped-def]
    rows = [
        r
        for r in reports[SEEDS[prefix]].rows
        if r.source_line == line and r.plan.source_document.startswith(prefix + "_")
    ]
    assert len(rows) == 1, (prefix, line, rows)
    return rows[0]


def test_hand_written_flags_on_the_seed_actions(reports: dict[str, SmartReport]) -> None:
    assert len(EXPECTED) >= 20
    wrong = []
    for (prefix, line), (opening, lacks) in EXPECTED.items():
        row = _row(reports, prefix, line)
        assert row.text.startswith(opening), (prefix, line, row.text[:60])
        if set(row.lacks) != lacks:
            wrong.append((prefix, line, opening, sorted(lacks), row.lacks))
    assert not wrong, wrong


def test_each_gap_quotes_the_words_that_caused_it(reports: dict[str, SmartReport]) -> None:
    gaps = {g.criterion: g for g in _row(reports, "000", 42).gaps}
    assert gaps[M].quote == "Increase" and "how much" in gaps[M].reason
    assert gaps[A].quote == "MBC" and "no named officer" in gaps[A].reason
    assert "No timescale" in gaps[T].reason
    ongoing = {g.criterion: g for g in _row(reports, "001", 12).gaps}[T]
    assert ongoing.quote == "Ongoing" and "'Ongoing'" in ongoing.reason
    continued = {g.criterion: g for g in _row(reports, "002", 336).gaps}[S]
    assert continued.quote == "Continue" and "no end point" in continued.reason
    topic = {g.criterion: g for g in _row(reports, "000", 58).gaps}[S]
    assert topic.quote == "Covid-19" and "topic" in topic.reason
    for report in reports.values():
        for row in report.rows:
            for gap in row.gaps:
                assert gap.reason
                assert gap.quote in row.text or gap.criterion in (A, T, R, M)


def test_the_summary_shows_the_real_gaps(reports: dict[str, SmartReport]) -> None:
    mbro = reports["middlesbrough"]
    # 83 delivery plan actions (seed 000) and 6 scrutiny recommendations (seed 001).
    assert len(mbro.rows) == 89
    # No action of seed 000 has a timescale; scrutiny c) and f) say "Ongoing".
    assert mbro.counts[T] == 83 + 2
    assert {r.label for r, _ in mbro.lacking(T) if r.kind == "recommendation"} == {
        "Recommendation c)",
        "Recommendation f)",
    }
    # Every action lacks a named person with an organisation: the plan names one or the other.
    assert mbro.counts[A] == 89
    assert mbro.smart_count == 0
    rc = reports["redcar-cleveland"]
    assert len(rc.rows) == 19
    # Only "due to be written in 2024" gives the Redcar & Cleveland table a time.
    assert rc.counts[T] == 18


def test_csp_smart_command(reports: dict[str, SmartReport]) -> None:
    out = StringIO()
    call_command("csp_smart", "--partnership", "middlesbrough", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["partnership"] == "middlesbrough"
    assert data["counts"]["time-bound"] == 85
    scrutiny_c = next(i for i in data["items"] if i["label"] == "Recommendation c)")
    assert {g["criterion"] for g in scrutiny_c["lacks"]} == {M, A, R, T}
    assert any(g["quote"] == "Ongoing" for g in scrutiny_c["lacks"])
    out = StringIO()
    call_command("csp_smart", "--partnership", "redcar-cleveland", "--format", "csv", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("plan,item,line,")
    assert any("where possible" in line for line in lines)
    out = StringIO()
    call_command("csp_smart", "--partnership", "redcar-cleveland", stdout=out)
    assert "Time-bound" in out.getvalue() and "18 of 19" in out.getvalue()
