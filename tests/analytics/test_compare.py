"""Period comparison (SIA): exact Poisson test, BH, table and plain-English findings."""

from __future__ import annotations

import doctest
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

import csp_analytics.compare
from csp_analytics.compare import (
    CategoryCounts,
    benjamini_hochberg,
    compare_periods,
    findings,
    poisson_change_test,
    share_in_words,
)

# --------------------------------------------------------------------------------------
# Independent calculations used as references
# --------------------------------------------------------------------------------------


def exact_two_sided(k: int, n: int, p0: Fraction) -> Fraction:
    """Sum, in exact rational arithmetic, P(j) over outcomes j with P(j) <= P(k)."""
    pmf = [math.comb(n, j) * p0**j * (1 - p0) ** (n - j) for j in range(n + 1)]
    return sum((q for q in pmf if q <= pmf[k]), Fraction(0))


def log_space_two_sided(k: int, n: int, p0: float) -> float:
    """The same sum in floating point via log-gamma (for counts too big for fractions)."""
    j = np.arange(n + 1)
    lg = np.vectorize(math.lgamma)
    logpmf = lg(n + 1) - lg(j + 1) - lg(n - j + 1) + j * math.log(p0) + (n - j) * math.log1p(-p0)
    keep = logpmf <= logpmf[k] + 1e-7
    return float(min(1.0, np.exp(logpmf[keep]).sum()))


# --------------------------------------------------------------------------------------
# poisson_change_test
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "baseline", "e1", "e0"),
    [
        (30, 15, 1, 1),
        (3, 7, 1, 1),  # p0 = 1/2: ties between j and n - j must both count
        (7, 3, 1, 1),
        (0, 6, 1, 1),
        (6, 0, 1, 1),
        (20, 9, 12, 11),  # a missing month in the baseline
        (4, 17, 5, 7),
        (1, 1, 3, 1),
        (50, 50, 1, 1),
    ],
)
def test_p_value_equals_binomtest_and_exact_direct_sum(current, baseline, e1, e0):
    result = poisson_change_test(current, baseline, current_exposure=e1, baseline_exposure=e0)
    n = current + baseline
    p0 = Fraction(e1, e1 + e0)
    exact = float(min(Fraction(1), exact_two_sided(current, n, p0)))
    assert_allclose(result.p_value, exact, rtol=1e-9)
    assert_allclose(result.p_value, stats.binomtest(current, n, float(p0)).pvalue, rtol=1e-9)


@pytest.mark.parametrize(
    ("current", "baseline", "e1", "e0"),
    [(2743, 2981, 1, 1), (6860, 5585, 1, 1), (1100, 1000, 12, 11), (50_000, 49_000, 1, 1)],
)
def test_p_value_for_large_counts_matches_log_space_sum(current, baseline, e1, e0):
    result = poisson_change_test(current, baseline, current_exposure=e1, baseline_exposure=e0)
    n, p0 = current + baseline, e1 / (e1 + e0)
    assert_allclose(result.p_value, log_space_two_sided(current, n, p0), rtol=1e-6, atol=1e-300)
    assert_allclose(result.p_value, stats.binomtest(current, n, p0).pvalue, rtol=1e-6)


def test_hand_worked_three_against_zero():
    # n = 3, p0 = 1/2: P(3) = P(0) = 1/8 and P(1) = P(2) = 3/8 are more likely, so p = 1/4.
    result = poisson_change_test(3, 0)
    assert result.p_value == pytest.approx(0.25, abs=1e-12)
    assert result.rate_ratio == math.inf
    assert result.ci_high == math.inf
    assert result.change_pct is None


def test_no_incidents_in_either_period_gives_p_one_and_undefined_ratio():
    result = poisson_change_test(0, 0)
    assert result.p_value == 1.0
    assert math.isnan(result.rate_ratio)
    assert (result.ci_low, result.ci_high) == (0.0, math.inf)


def test_exposure_turns_counts_into_monthly_rates():
    # 120 in 12 months and 110 in 11 months are both 10 a month: no change at all.
    result = poisson_change_test(120, 110, current_exposure=12, baseline_exposure=11)
    assert result.rate_ratio == pytest.approx(1.0)
    assert result.change_pct == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)
    # Without exposures the same counts look like a 9% rise.
    assert poisson_change_test(120, 110).change_pct == pytest.approx(100 * (120 / 110 - 1))


@pytest.mark.parametrize(("current", "baseline", "e1", "e0"), [(30, 15, 1, 1), (9, 40, 11, 12)])
def test_rate_ratio_interval_is_transformed_clopper_pearson(current, baseline, e1, e0):
    result = poisson_change_test(current, baseline, current_exposure=e1, baseline_exposure=e0)
    n = current + baseline
    ci = stats.binomtest(current, n, e1 / (e1 + e0)).proportion_ci(0.95, method="exact")
    to_ratio = lambda p: p / (1 - p) * e0 / e1  # noqa: E731
    assert_allclose([result.ci_low, result.ci_high], [to_ratio(ci.low), to_ratio(ci.high)])
    assert result.ci_low < result.rate_ratio < result.ci_high


def test_rate_ratio_interval_covers_the_truth_at_least_95_percent():
    rng = np.random.default_rng(seed=20240501)
    true_ratio, hits, trials = 1.5, 0, 400
    for _ in range(trials):
        cur, base = rng.poisson(15 * true_ratio), rng.poisson(15)
        r = poisson_change_test(int(cur), int(base))
        hits += r.ci_low <= true_ratio <= r.ci_high
    assert hits / trials >= 0.93  # exact intervals are conservative; 0.93 allows MC error


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"current": -1, "baseline": 3}, ValueError),
        ({"current": 2.5, "baseline": 3}, TypeError),
        ({"current": 2, "baseline": 3, "current_exposure": 0.0}, ValueError),
        ({"current": 2, "baseline": 3, "baseline_exposure": math.nan}, ValueError),
        ({"current": 2, "baseline": 3, "confidence": 1.0}, ValueError),
    ],
)
def test_invalid_input_is_rejected(kwargs, error):
    with pytest.raises(error):
        poisson_change_test(**kwargs)


def test_numpy_integer_counts_are_accepted():
    assert poisson_change_test(np.int64(30), np.int32(15)).p_value == pytest.approx(
        poisson_change_test(30, 15).p_value
    )


# --------------------------------------------------------------------------------------
# Benjamini-Hochberg
# --------------------------------------------------------------------------------------


def test_bh_hand_worked():
    # sorted p: .01 .03 .04 .5 -> m p / rank: .04 .06 .0533 .5 -> running min from the top.
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert_allclose(q, [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])


def test_bh_matches_scipy_false_discovery_control():
    rng = np.random.default_rng(seed=7)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
    assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p), rtol=1e-12)


def test_bh_leaves_untested_nan_out_of_the_family_and_input_untouched():
    p = np.array([0.01, np.nan, 0.02])
    before = p.copy()
    q = benjamini_hochberg(p)
    assert_allclose(q, [0.02, np.nan, 0.02])
    np.testing.assert_array_equal(p, before)


# --------------------------------------------------------------------------------------
# compare_periods
# --------------------------------------------------------------------------------------

ROWS = [
    CategoryCounts("Vehicle nuisance", "ASB", 893, 620),
    CategoryCounts("Youth related", "ASB", 700, 1030),
    CategoryCounts("Other ASB", "ASB", 850, 831),
    CategoryCounts("Residential burglary", "Burglary", 12, 4),
    CategoryCounts("Business burglary", "Burglary", 30, 3),
    CategoryCounts("Hate crime", "Hate", 15, 15),
    CategoryCounts("Criminal damage", "Damage", 41, 24),  # raw p = 0.046, q > 0.05
]


def test_table_has_theme_rows_followed_by_their_categories():
    table = compare_periods(ROWS, current_months=12, baseline_months=12)
    assert [(r.level, r.label) for r in table.rows] == [
        ("theme", "ASB"),
        ("category", "Vehicle nuisance"),
        ("category", "Youth related"),
        ("category", "Other ASB"),
        ("theme", "Burglary"),
        ("category", "Residential burglary"),
        ("category", "Business burglary"),
        ("theme", "Hate"),
        ("category", "Hate crime"),
        ("theme", "Damage"),
        ("category", "Criminal damage"),
    ]


def test_theme_totals_changes_and_shares_worked_by_hand():
    table = compare_periods(ROWS, current_months=12, baseline_months=12)
    asb = table.row("ASB", level="theme")
    assert (asb.current, asb.baseline, asb.change_per_month) == (2443, 2481, -38 / 12)
    assert asb.direction == "fall"
    assert asb.change_pct == pytest.approx(100 * (2443 / 2481 - 1))
    assert asb.share_of_theme is None
    vn = table.row("Vehicle nuisance")
    assert vn.change_pct == pytest.approx(44.032, abs=1e-3)
    assert vn.share_of_theme == pytest.approx(893 / 2443)
    assert vn.share_change == pytest.approx(893 / 2443 - 620 / 2481)


def test_significant_agrees_with_independent_binomtest_and_scipy_bh():
    table = compare_periods(ROWS, current_months=12, baseline_months=12, alpha=0.05)
    p = [stats.binomtest(r.current, r.current + r.baseline, 0.5).pvalue for r in table.rows]
    q = stats.false_discovery_control(p)
    assert_allclose([r.p_value for r in table.rows], p, rtol=1e-9)
    assert_allclose([r.q_value for r in table.rows], q, rtol=1e-9)
    assert [r.significant for r in table.rows] == list(q < 0.05)
    # Raw p < 0.05 is not enough: the adjustment must change at least one verdict here.
    assert any(pi < 0.05 <= qi for pi, qi in zip(p, q))


def test_small_numbers_rule():
    table = compare_periods(ROWS, current_months=12, baseline_months=12)
    assert table.row("Residential burglary").small_numbers  # 12 + 4 = 16 < 20
    assert table.row("Business burglary").small_numbers  # 3 < 5 in the baseline
    assert not table.row("Hate crime").small_numbers  # 15 and 15
    assert not table.row("ASB", level="theme").small_numbers


def test_unequal_periods_use_monthly_rates():
    rows = [CategoryCounts("Burglary", "Acquisitive", 110, 120)]
    table = compare_periods(rows, current_months=11, baseline_months=12)
    row = table.row("Burglary")
    assert (row.current_per_month, row.baseline_per_month) == (10.0, 10.0)
    assert row.change_per_month == 0.0 and row.direction == "no change"  # counts fell by 10
    assert row.change_pct == 0.0  # 10 a month in both
    assert row.p_value == pytest.approx(stats.binomtest(110, 230, 11 / 23).pvalue)


def test_records_are_json_safe_even_with_zero_baseline():
    rows = [*ROWS, CategoryCounts("Knife crime", "Violence", 4, 0)]
    records = compare_periods(rows, current_months=12, baseline_months=12).to_records()
    text = json.dumps(records, allow_nan=False)
    knife = next(r for r in json.loads(text) if r["category"] == "Knife crime")
    assert knife["change_pct"] is None and knife["ci_high"] is None and knife["rate_ratio"] is None
    assert knife["current"] == 4 and knife["small_numbers"] is True


def test_inputs_are_not_modified_and_results_are_frozen():
    rows = list(ROWS)
    table = compare_periods(rows, current_months=12, baseline_months=12)
    assert rows == ROWS
    with pytest.raises(AttributeError):
        table.rows[0].current = 1  # type: ignore[misc]


def test_duplicate_categories_and_bad_months_are_rejected():
    with pytest.raises(ValueError, match="more than once"):
        compare_periods([ROWS[0], ROWS[0]], current_months=12, baseline_months=12)
    with pytest.raises(ValueError):
        compare_periods(ROWS, current_months=0, baseline_months=12)


# --------------------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------------------


def _findings(rows, *, current_months=12, baseline_months=12, **kwargs):
    table = compare_periods(rows, current_months=current_months, baseline_months=baseline_months)
    return findings(
        table,
        area_name="Redcar & Cleveland",
        period_label="2023/24",
        baseline_label="2022/23",
        **kwargs,
    )


def test_significant_theme_change_reads_like_the_sia():
    out = _findings([CategoryCounts("All ASB", "Anti-social behaviour", 2743, 2981)])
    assert out[0].text == (
        "Anti-social behaviour in Redcar & Cleveland decreased by 8% (2,981 in 2022/23 to "
        "2,743 in 2023/24); the change is statistically significant."
    )
    assert len(out) == 1  # a theme's only category is not repeated


def test_category_share_is_given_in_words_with_the_numbers_behind_it():
    out = _findings(ROWS)
    vn = next(f for f in out if f.category == "Vehicle nuisance")
    assert vn.text.startswith("Over a third (37%) of all ASB in Redcar & Cleveland in 2023/24 was")
    assert "increased by 44% (620 in 2022/23 to 893 in 2023/24)" in vn.text
    assert (vn.current, vn.baseline, vn.significant) == (893, 620, True)
    assert (
        vn.p_value
        == compare_periods(ROWS, current_months=12, baseline_months=12)
        .row("Vehicle nuisance")
        .p_value
    )


def test_a_change_that_is_not_significant_is_never_reported_without_the_caveat():
    out = _findings(ROWS, min_share=0.0)
    assert any(not f.significant for f in out)
    for f in out:
        moved = "increased" in f.text or "decreased" in f.text
        if moved and not f.significant:
            assert "not statistically significant and may be chance variation" in f.text
        if f.significant:
            assert "statistically significant." in f.text and "not statistically" not in f.text


def test_small_numbers_carry_a_caution():
    out = _findings(ROWS, min_share=0.0)
    caution = "Numbers are small, so treat this change with caution."
    for f in out:
        assert (caution in f.text) == f.small_numbers
    assert any(f.small_numbers for f in out)


def test_zero_baseline_and_unequal_periods_are_worded_correctly():
    out = _findings(
        [
            CategoryCounts("Knife crime", "Violence", 4, 0),
            CategoryCounts("Robbery", "Theft", 110, 120),
        ],
        current_months=11,
    )
    assert "went from none in 2022/23 to 4 in 2023/24" in out[0].text
    assert (
        "was unchanged at 10 a month (120 in the 12 months of 2022/23; 110 in the 11 months"
        in out[1].text
    )


def test_minor_categories_that_did_not_change_significantly_are_left_out():
    rows = [CategoryCounts("Big", "T", 950, 940), CategoryCounts("Tiny", "T", 30, 28)]
    names = [f.category for f in _findings(rows)]
    assert names == [None, "Big"]
    assert [f.category for f in _findings(rows, min_share=0.0)] == [None, "Big", "Tiny"]


@pytest.mark.parametrize(
    ("share", "words"),
    [
        (0.36, "over a third"),
        (1 / 3, "about a third"),
        (0.31, "nearly a third"),
        (0.48, "nearly half"),
        (0.5, "about half"),
        (0.23, "nearly a quarter"),
        (0.28, "over a quarter"),
        (0.17, "about a sixth"),
        (0.05, "less than a tenth"),
        (0.97, "almost all"),
        (0.0, "none"),
        (1.0, "all"),
    ],
)
def test_share_in_words_table(share, words):
    assert share_in_words(share) == words


def test_docstring_examples_run():
    result = doctest.testmod(csp_analytics.compare)
    assert result.attempted > 0 and result.failed == 0
