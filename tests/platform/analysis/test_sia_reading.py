"""How the SIA reads (issue 8): the badge on the page has the direction of the monthly rate
for any pair of periods, rises and falls differ in word and symbol, and p-values are
written to two significant figures ("<0.001" below 0.001), never "0.00"."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from csp_analytics.compare import CategoryCounts, compare_periods
from csp_platform.analysis.results import change_pct_text, number_text, p_value_text

ROW = re.compile(
    r'<tr class="govuk-table__row[^"]*" data-level="(\w+)" data-code="([^"]+)"[^>]*>(.*?)</tr>',
    re.S,
)


def rate_sign(current: int, baseline: int, current_months: int, baseline_months: int) -> int:
    now, before = current * baseline_months, baseline * current_months
    return (now > before) - (now < before)


@st.composite
def sia_tables(draw: st.DrawFn) -> tuple[list[CategoryCounts], int, int]:
    """Monthly counts of one to five categories over two periods with different months."""
    cm = draw(st.integers(1, 12))
    bm = draw(st.integers(1, 12).filter(lambda m: m != cm))
    rows = []
    for i in range(draw(st.integers(1, 5))):
        top = draw(st.sampled_from([5, 50, 500]))
        now = draw(st.lists(st.integers(0, top), min_size=cm, max_size=cm))
        before = draw(st.lists(st.integers(0, top), min_size=bm, max_size=bm))
        rows.append(CategoryCounts(f"c{i}", f"t{i % 2}", sum(now), sum(before)))
    return rows, cm, bm


def page_table(rows: list[CategoryCounts], cm: int, bm: int) -> str:
    """The table the SIA page and the ward profile include, for a table of these counts."""
    table = compare_periods(rows, current_months=cm, baseline_months=bm)
    records = [
        {**r, "theme_name": r["theme"], "category_name": r["category"]} for r in table.to_records()
    ]
    sia = SimpleNamespace(
        rows=records,
        table=table,
        area=SimpleNamespace(name="Test area"),
        period_label="now",
        baseline_label="before",
        current_months=cm,
        baseline_months=bm,
    )
    return render_to_string("hub/_sia_table.html", {"sia": sia})


# Middlesbrough's vehicle crime (issue 8): 317 in 3 months, then 294 in 2 months.
MIDDLESBROUGH_VEHICLE = ([CategoryCounts("Vehicle crime", "Acquisitive", 294, 317)], 2, 3)


@settings(max_examples=150, deadline=None)
@given(sia_tables())
@example(MIDDLESBROUGH_VEHICLE)
def test_the_badge_on_the_page_has_the_direction_of_the_monthly_rate(case):
    rows, cm, bm = case
    html = page_table(rows, cm, bm)
    counts = {r.category: (r.current, r.baseline) for r in rows}
    themes: dict[str, tuple[int, int]] = {}
    for r in rows:
        c, b = themes.get(r.theme, (0, 0))
        themes[r.theme] = (c + r.current, b + r.baseline)
    # Significance from scipy (exact binomial test, months as exposures, BH over the rows).
    shown = ROW.findall(html)
    totals = [counts[code] if level == "category" else themes[code] for level, code, _ in shown]
    p = [stats.binomtest(c, c + b, cm / (cm + bm)).pvalue if c + b else 1.0 for c, b in totals]
    q = stats.false_discovery_control(p, method="bh")
    for (_, code, cells), (c, b), q_i in zip(shown, totals, q):
        d = rate_sign(c, b, cm, bm)
        words = re.findall(r"Significant (rise|fall)", cells)
        assert words == ([{1: "rise", -1: "fall"}[d]] if q_i < 0.05 else []), (code, c, b)
        badges = re.findall(r"([▲▼])</span> Significant (rise|fall)", cells)
        if q_i < 0.05:  # the word and the symbol, not colour alone
            assert badges == [{1: ("▲", "rise"), -1: ("▼", "fall")}[d]], (code, c, b, badges)
        else:
            assert "Not significant" in cells
        # The change column: the symbol and the sign of the monthly rate's change.
        change = re.search(
            r'<span class="csp-direction" aria-hidden="true">(.)</span> (\S+)<', cells
        )
        if b:
            assert change is not None
            symbol, text = change.groups()
            assert symbol == {1: "▲", -1: "▼", 0: "="}[d]
            assert text[0] == {1: "+", -1: "-", 0: "0"}[d]


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (1.0, "1.0"),
        (0.5, "0.50"),
        (0.2345, "0.23"),
        (0.04567, "0.046"),
        (0.0499, "0.050"),
        (0.012, "0.012"),
        (0.0012345, "0.0012"),
        (0.001, "0.0010"),
        (0.000999, "<0.001"),
        (3.2e-5, "<0.001"),
        (0.0, "<0.001"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_p_values_have_two_significant_figures_and_words_below_a_thousandth(p, text):
    assert p_value_text(p) == text


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (738.3333333333334, "738.3333333333334"),
        (0.09041591320072333, "0.09041591320072333"),
        (-419.8333333333333, "-419.8333333333333"),
        (1e-7, "0.0000001"),
        (147.0, "147"),
        (None, ""),
        (float("inf"), ""),
    ],
)
def test_numbers_in_the_export_keep_full_precision(x, text):
    assert number_text(x) == text


@pytest.mark.parametrize(
    ("direction", "pct", "current", "text"),
    [
        ("rise", 39.11671924290221, 294, "+39%"),
        ("fall", -56.86230248306998, 637, "-57%"),
        ("rise", 0.09041591320072333, 369, "+0.1%"),
        ("rise", 0.01, 10001, "+<0.1%"),
        ("fall", -0.4, 996, "-0.4%"),
        ("no change", 0.0, 110, "0%"),
        ("rise", None, 4, "new"),
        ("no change", None, 0, ""),
    ],
)
def test_the_change_is_written_with_the_sign_of_its_direction(direction, pct, current, text):
    assert change_pct_text(direction, pct, current) == text
