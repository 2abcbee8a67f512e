"""Property test (issue 8): over random pairs of periods with different numbers of months of
data, every SIA row's direction, verdict, change per month and percentage agree with the sign
of the change in the monthly rate, and the significance test compares rates with the months
as exposures.

The expectations are computed here from the monthly counts alone: the direction by integer
cross-multiplication (current x baseline months against baseline x current months), the
p-values with ``scipy.stats.binomtest`` and the q-values with
``scipy.stats.false_discovery_control``; nothing is taken from the code under test.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from csp_analytics.compare import CategoryCounts, compare_periods, findings, poisson_change_test

WORD = {1: "rise", -1: "fall", 0: "no change"}


def rate_sign(current: int, baseline: int, current_months: int, baseline_months: int) -> int:
    now, before = current * baseline_months, baseline * current_months
    return (now > before) - (now < before)


def sign(x: float) -> int:
    return (x > 0) - (x < 0)


@st.composite
def two_periods(draw: st.DrawFn) -> tuple[list[CategoryCounts], int, int]:
    """Categories (in one to three themes) with a count for every month with data of a
    current and a baseline period that have different numbers of months."""
    current_months = draw(st.integers(1, 24))
    baseline_months = draw(st.integers(1, 24).filter(lambda m: m != current_months))
    n = draw(st.integers(1, 6))
    rows = []
    for i in range(n):
        level = draw(st.sampled_from([3, 30, 300]))  # small, middling and force-sized rates
        month = st.integers(0, level)
        now = draw(st.lists(month, min_size=current_months, max_size=current_months))
        before = draw(st.lists(month, min_size=baseline_months, max_size=baseline_months))
        theme = f"theme {draw(st.integers(0, 2))}"
        rows.append(CategoryCounts(f"category {i}", theme, sum(now), sum(before)))
    return rows, current_months, baseline_months


@settings(max_examples=300, deadline=None)
@given(two_periods())
@example(([CategoryCounts("Vehicle crime", "Acquisitive", 294, 317)], 2, 3))  # issue 8
def test_the_verdict_always_has_the_direction_of_the_monthly_rate(case):
    rows, cm, bm = case
    table = compare_periods(rows, current_months=cm, baseline_months=bm)
    p = [
        stats.binomtest(r.current, r.current + r.baseline, cm / (cm + bm)).pvalue
        if r.current + r.baseline
        else 1.0
        for r in table.rows
    ]
    q = stats.false_discovery_control(p, method="bh")
    for row, p_i, q_i in zip(table.rows, p, q):
        d = rate_sign(row.current, row.baseline, cm, bm)
        assert row.direction == WORD[d]
        assert sign(row.change_per_month) == d
        if row.baseline:
            assert sign(row.change_pct) == d and sign(row.rate_ratio - 1) == d
        else:
            assert row.change_pct is None
        # The test compares the rates, months as exposures: the exact binomial test of the
        # current count given the total, with p0 = current months / all months.
        assert abs(row.p_value - p_i) <= 1e-6 * p_i + 1e-300
        assert abs(row.q_value - q_i) <= 1e-6 * q_i + 1e-300
        assert row.significant == bool(q_i < 0.05)
        # The badge: a significant change is a rise or a fall exactly as the rate moved.
        if row.significant:
            assert d != 0 and row.reading == f"significant {WORD[d]}"
        else:
            assert row.reading == "not significant"


@settings(max_examples=200, deadline=None)
@given(two_periods())
def test_the_findings_use_the_same_direction(case):
    rows, cm, bm = case
    table = compare_periods(rows, current_months=cm, baseline_months=bm)
    for f in findings(table, area_name="A", period_label="now", baseline_label="before"):
        d = rate_sign(f.current, f.baseline, cm, bm)
        assert f.direction == WORD[d]
        if f.baseline and d:
            assert (" increased by " in f.text) == (d > 0)
            assert (" decreased by " in f.text) == (d < 0)
            assert "a month on average" in f.text


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(1, 600),
    st.integers(1, 600),
)
def test_one_rate_comparison_even_at_near_ties(current, baseline, cm, bm):
    """Large counts and near-equal rates: the direction, the change and the percentage come
    from one exact comparison, so rounding can never give them different signs."""
    t = poisson_change_test(current, baseline, current_exposure=cm, baseline_exposure=bm)
    d = rate_sign(current, baseline, cm, bm)
    assert t.direction == WORD[d]
    assert sign(t.rate_change) == d
    if baseline:
        assert sign(t.change_pct) == d


def test_equal_rates_over_different_months_are_no_change():
    # 7 in 3 months and 14 in 6 months: 7/3 a month in both; floats would disagree.
    t = poisson_change_test(7, 14, current_exposure=3, baseline_exposure=6)
    assert (t.direction, t.rate_change, t.change_pct, t.rate_ratio) == ("no change", 0, 0, 1)
