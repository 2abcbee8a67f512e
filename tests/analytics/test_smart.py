"""The SMART rules (csp_analytics.smart) on hand-written actions: each case says which
criteria the action lacks and why, written from the rules in docs/analytics/smart-check.md."""

from __future__ import annotations

from datetime import date

import pytest

from csp_analytics.smart import ActionTexts, check, summary

LED = {"lead_organisations": ("Middlesbrough Council",), "lead_officer": "Community Safety Manager"}
FULL = {**LED, "priority": "Feeling safe", "timescale": "March 2023"}


@pytest.mark.parametrize(
    ("texts", "lacks"),
    [
        # SMART: a made output, a lead with a post, a priority and a month
        (ActionTexts("Publish the begging strategy", **FULL), []),
        # "discontinued" is not "continue": whole words only
        (ActionTexts("Publish a report on the discontinued CCTV contract", **FULL), []),
        (ActionTexts("Continue to attend ward meetings", **FULL), ["specific", "measurable"]),
        (ActionTexts("Reduce ASB in Newport by 10%", **FULL), []),
        (ActionTexts("Reduce ASB in Newport", **FULL), ["measurable"]),
        (ActionTexts("Reduce ASB in Newport", **FULL, indicators=("ASB per 1,000",)), []),
        (ActionTexts("Hold at least 12 days of action", **FULL), []),
        (ActionTexts("Volunteering", **FULL), ["specific", "measurable"]),
        (ActionTexts("Publish the plan", **{**FULL, "timescale": "On-going"}), ["time-bound"]),
        (ActionTexts("Publish the plan", **{**FULL, "timescale": "tbc."}), ["time-bound"]),
        (ActionTexts("Publish the plan", **{**FULL, "timescale": "????"}), ["time-bound"]),
        (ActionTexts("Publish the plan", **{**FULL, "timescale": "Q3 2022/23"}), []),
        (
            ActionTexts("Publish the plan", **{**FULL, "timescale": "After the review"}),
            ["time-bound"],
        ),
        (
            ActionTexts(
                "Publish the plan", **{**FULL, "timescale": "Soon", "due_date": date(2023, 3, 31)}
            ),
            [],
        ),
        (ActionTexts("Publish the plan by March 2023", **LED, priority="x"), []),
        # a past event is no deadline
        (
            ActionTexts(
                "Write a needs assessment; one was conducted in January 2024", **LED, priority="x"
            ),
            ["time-bound"],
        ),
        (ActionTexts("Publish the plan", timescale="May 2023", priority="x"), ["assignable"]),
        (ActionTexts("Publish the plan", **{**FULL, "priority": ""}), ["relevant"]),
    ],
)
def test_rules(texts: ActionTexts, lacks: list[str]) -> None:
    assert [g.criterion for g in check(texts)] == lacks


def test_gaps_quote_the_words_and_the_summary_counts_them() -> None:
    gaps = check(ActionTexts("Continue to support volunteers where possible", timescale="TBC"))
    assert [(g.criterion, g.rule, g.quote) for g in gaps] == [
        ("specific", "S1", "Continue"),
        ("measurable", "M0", ""),
        ("assignable", "A0", ""),
        ("relevant", "R0", ""),
        ("time-bound", "T1", "TBC"),
    ]
    assert summary([gaps, [], gaps[:1]]) == {
        "specific": 2,
        "measurable": 1,
        "assignable": 1,
        "relevant": 1,
        "time-bound": 1,
    }
