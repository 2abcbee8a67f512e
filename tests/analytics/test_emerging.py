"""Emerging issues on small synthetic series whose expected values can be worked by hand."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

import csp_analytics.emerging
from csp_analytics.emerging import emerging_issues

NAN = math.nan


def months(start: str, end: str) -> np.ndarray:
    """Month labels from ``start`` to ``end`` inclusive."""
    return np.arange(start, np.datetime64(end, "M") + 1, dtype="datetime64[M]")


def flat(start: str, end: str, level: float, **overrides: float) -> tuple[np.ndarray, list[float]]:
    """A constant series with some months overridden, e.g. ``flat(..., **{"2020-07": 200})``."""
    labels = months(start, end)
    values = [float(overrides.get(str(m), level)) for m in labels]
    return labels, values


# --------------------------------------------------------------------------------------
# Hand-worked expected values and p-values
# --------------------------------------------------------------------------------------

HAND = [10, 12, 9, 11, 10, 12, 11, 30]  # the last six before 30 have median 11
HAND_MONTHS = months("2021-01", "2021-08")


def test_expected_is_the_median_of_the_last_six_months():
    scan = emerging_issues([HAND], HAND_MONTHS, ["A"])
    check = scan.check("A")
    assert check.level == 11.0 and check.expected == 11.0
    assert check.baseline_months == tuple(str(m) for m in months("2021-02", "2021-07"))
    assert check.seasonal_source == "none" and check.seasonal_factor == 1.0
    assert check.flagged
    assert "median of Feb-Jul 2021 = 11.0" in check.evidence


def test_poisson_p_value_is_the_exact_upper_tail():
    check = emerging_issues([HAND], HAND_MONTHS, ["A"], overdispersion=False).check("A")
    assert check.dispersion == 1.0
    assert_allclose(check.p_value, stats.poisson.sf(29, 11.0), rtol=1e-12)
    direct = 1.0 - sum(math.exp(-11.0) * 11.0**j / math.factorial(j) for j in range(30))
    assert_allclose(check.p_value, direct, rtol=1e-6)


def test_negative_binomial_p_value_worked_by_hand():
    # Baseline 12 9 11 10 12 11: MAD = 1, so (1.4826 * 1)^2 / 11 < 1 and the spread is
    # Poisson; the median's own error adds pi / (2 * 6): variance = 11 * (1 + pi / 12).
    check = emerging_issues([HAND], HAND_MONTHS, ["A"]).check("A")
    phi = 1 + math.pi / 12
    assert_allclose(check.dispersion, phi)
    expected_p = stats.nbinom.sf(29, 11.0 / (phi - 1), 1 / phi)
    assert_allclose(check.p_value, expected_p, rtol=1e-10)
    assert check.p_value > stats.poisson.sf(29, 11.0)  # allowing for error is more cautious


def test_overdispersed_history_raises_the_bar():
    # Same median (110) but months swing by +-40: 160 is unremarkable here...
    swing = [70, 150, 70, 150, 110, 110, 160]
    noisy = emerging_issues([swing], months("2021-01", "2021-07"), ["A"]).check("A")
    # ...while a steady series at 110 makes 160 an issue.
    steady = emerging_issues([[110] * 6 + [160]], months("2021-01", "2021-07"), ["A"])
    assert noisy.expected == steady.check("A").expected == 110.0
    assert noisy.dispersion > 5 and not noisy.flagged
    assert steady.check("A").flagged


# --------------------------------------------------------------------------------------
# Gaps are gaps
# --------------------------------------------------------------------------------------


def test_a_missing_month_is_skipped_not_counted_as_zero():
    labels = months("2021-01", "2021-09")
    with_gap = [100, 100, 100, 100, NAN, 100, 100, 100, 130]
    check = emerging_issues([with_gap], labels, ["A"]).check("A")
    assert "2021-05" not in check.baseline_months
    assert check.baseline_months[0] == "2021-02"  # reaches back one more month instead
    assert check.expected == 100.0
    assert "May 2021 missing, skipped" in check.evidence
    zero_filled = [0.0 if math.isnan(v) else v for v in with_gap]
    assert "2021-05" in emerging_issues([zero_filled], labels, ["A"]).check("A").baseline_months


def test_an_absent_month_label_is_the_same_as_a_nan_column():
    labels = months("2021-01", "2021-09")
    values = [[100, 90, 100, 110, NAN, 100, 95, 105, 140], [5, 6, 4, 5, NAN, 6, 5, 4, 12]]
    keep = [i for i in range(labels.size) if i != 4]
    full = emerging_issues(values, labels, ["A", "B"])
    dropped = emerging_issues(np.array(values)[:, keep], labels[keep], ["A", "B"])
    assert full == dropped


def test_a_series_with_no_data_in_the_month_is_not_tested():
    labels = months("2021-01", "2021-08")
    scan = emerging_issues([[10] * 7 + [NAN], HAND], labels, ["gap", "ok"])
    gap = scan.check("gap")
    assert gap.observed is None and gap.p_value is None and gap.q_value is None
    assert not gap.flagged
    assert "gap, not a zero" in gap.evidence
    assert scan.n_tested == 1


def test_too_little_history_is_not_tested():
    check = emerging_issues([[10, NAN, 12, 40]], months("2021-01", "2021-04"), ["A"]).check("A")
    assert check.p_value is None and not check.flagged
    assert check.evidence == (
        "A: not tested; only 2 observed month(s) in the year before Apr 2021 "
        "(Feb 2021 missing, skipped), at least 3 needed."
    )


# --------------------------------------------------------------------------------------
# One-off breaks are not learnt
# --------------------------------------------------------------------------------------


def test_a_one_off_collapse_does_not_lower_the_expected_level():
    # A mean of the last six months would give 867 and make an ordinary 1,000 "emerging".
    labels, values = flat("2020-01", "2020-08", 1000, **{"2020-07": 200})
    check = emerging_issues([values], labels, ["A"], overdispersion=False).check("A")
    assert check.expected == 1000.0
    assert not check.flagged


def test_a_dip_seen_in_one_year_is_not_learnt_as_seasonality():
    labels, values = flat("2020-01", "2021-07", 1000, **{"2020-07": 200})
    check = emerging_issues([values], labels, ["A"]).check("A")
    assert check.seasonal_months == ("2020-07",)  # it was looked at...
    assert check.seasonal_factor == 1.0  # ...but a one-year dip of 0.2 is not believed
    assert check.expected == 1000.0 and not check.flagged


def test_a_peak_seen_in_one_year_is_believed():
    labels, values = flat("2020-01", "2021-12", 1000, **{"2020-12": 1500, "2021-12": 1500})
    check = emerging_issues([values], labels, ["A"]).check("A")
    assert check.seasonal_source == "own" and check.seasonal_factor == 1.5
    assert check.expected == 1500.0 and not check.flagged


def test_a_dip_seen_in_three_years_is_learnt():
    dips = {f"{y}-08": 500 for y in (2018, 2019, 2020)}
    labels, values = flat("2018-01", "2021-08", 1000, **dips, **{"2021-08": 800})
    check = emerging_issues([values], labels, ["A"]).check("A")
    assert check.seasonal_months == ("2018-08", "2019-08", "2020-08")
    assert check.seasonal_factor == 0.5 and check.expected == 500.0
    assert check.flagged  # 800 in a month that is usually half the level


def test_small_series_borrow_the_seasonal_factor_of_their_group():
    # Five areas with 3 a month and December doubled in 2020: too small on their own
    # (baseline 3 < 10), but the pooled group (15 a month) shows December at 2x.
    labels, values = flat("2020-01", "2021-12", 3, **{"2020-12": 6})
    keys = [f"area {i} | burglary" for i in range(5)]
    grouped = emerging_issues([values] * 5, labels, keys, groups=["burglary"] * 5)
    alone = emerging_issues([values] * 5, labels, keys)
    g, a = grouped.check(keys[0]), alone.check(keys[0])
    assert (g.seasonal_source, g.seasonal_factor, g.expected) == ("group", 2.0, 6.0)
    assert (a.seasonal_source, a.seasonal_factor, a.expected) == ("none", 1.0, 3.0)
    assert "the pooled group 'burglary'" in g.evidence


# --------------------------------------------------------------------------------------
# Multiple testing, minimum count, inputs
# --------------------------------------------------------------------------------------


def test_q_values_are_benjamini_hochberg_across_the_series_tested():
    rng = np.random.default_rng(seed=3)
    base = rng.poisson(20, size=(12, 8)).astype(float)
    base[:4, -1] += np.array([25, 15, 10, 5])  # a few raised last months
    base[5, -1] = NAN  # not tested: out of the family
    scan = emerging_issues(base, months("2021-01", "2021-08"), [f"s{i}" for i in range(12)])
    p = np.array([np.nan if c.p_value is None else c.p_value for c in scan.checks])
    q = np.array([np.nan if c.q_value is None else c.q_value for c in scan.checks])
    tested = ~np.isnan(p)
    assert scan.n_tested == 11
    assert_allclose(q[tested], stats.false_discovery_control(p[tested]), rtol=1e-12)
    assert [i.series_key for i in scan.issues] == sorted(
        (c.series_key for c in scan.checks if c.flagged), key=lambda k: scan.check(k).p_value
    )
    for c in scan.checks:
        assert c.flagged == (c.q_value is not None and c.q_value < 0.05 and c.observed >= 5)


def test_an_issue_needs_a_minimum_count():
    labels = months("2021-01", "2021-07")
    four = emerging_issues([[0, 0, 0, 0, 0, 0, 4]], labels, ["A"]).check("A")
    six = emerging_issues([[0, 0, 0, 0, 0, 0, 6]], labels, ["A"]).check("A")
    assert four.expected == 0.5 and four.p_value < 0.05 and not four.flagged
    assert six.flagged


def test_inputs_are_not_modified():
    counts = np.array([HAND, HAND], dtype=float)
    labels = HAND_MONTHS.copy()
    keys, groups = ["A", "B"], ["g", "g"]
    emerging_issues(counts, labels, keys, groups=groups)
    assert_array_equal(counts, [HAND, HAND])
    assert_array_equal(labels, HAND_MONTHS)
    assert (keys, groups) == (["A", "B"], ["g", "g"])


def test_the_month_can_be_chosen_and_labels_may_be_strings():
    labels = [str(m) for m in HAND_MONTHS]
    scan = emerging_issues([HAND], labels, ["A"], month="2021-07")
    assert scan.month == "2021-07" and scan.check("A").observed == 11


@pytest.mark.parametrize(
    ("counts", "labels", "keys", "kwargs", "match"),
    [
        ([[1, 2, 3]], ["2021-03", "2021-02", "2021-04"], ["A"], {}, "increasing"),
        ([[1, 2, 3]], ["2021-01", "2021-02", "2021-03"], ["A"], {"month": "2021-05"}, "outside"),
        ([[1, -2, 3]], ["2021-01", "2021-02", "2021-03"], ["A"], {}, "non-negative"),
        ([[1, 2.5, 3]], ["2021-01", "2021-02", "2021-03"], ["A"], {}, "whole"),
        ([[1, 2, 3]] * 2, ["2021-01", "2021-02", "2021-03"], ["A", "A"], {}, "unique"),
        ([[1, 2, 3]], ["2021-01", "2021-02", "2021-03"], ["A"], {"groups": []}, "groups"),
        ([1, 2, 3], ["2021-01", "2021-02", "2021-03"], ["A"], {}, "2-D"),
    ],
)
def test_bad_input_is_rejected(counts, labels, keys, kwargs, match):
    with pytest.raises(ValueError, match=match):
        emerging_issues(counts, labels, keys, **kwargs)


def test_docstring_examples_run():
    result = doctest.testmod(csp_analytics.emerging)
    assert result.attempted > 0 and result.failed == 0
