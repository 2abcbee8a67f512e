"""Rates per 1,000 residents and peer comparison, on hand-checkable fixtures."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

import csp_analytics.rates
from csp_analytics.rates import peer_comparison, rate_per_1000


def test_rates_are_nan_with_a_reason_where_population_is_zero_or_unknown():
    r = rate_per_1000([12, 3, 5, math.nan, 7], [6000, 0, None, 1000, -5])
    assert_allclose(r.per_1000, [2.0, np.nan, np.nan, np.nan, np.nan])
    assert r.reasons == (
        None,
        "population is zero",
        "population is unknown",
        "count is unknown",
        "population is negative",
    )


def test_rate_inputs_are_not_modified_and_results_are_read_only():
    counts, pops = np.array([10.0, 20.0]), np.array([5000.0, 0.0])
    r = rate_per_1000(counts, pops)
    assert_array_equal(counts, [10.0, 20.0])
    assert_array_equal(pops, [5000.0, 0.0])
    with pytest.raises(ValueError):
        r.per_1000[0] = 99.0


def test_rate_shapes_must_match():
    with pytest.raises(ValueError):
        rate_per_1000([1, 2], [1000])


def test_peer_comparison_worked_by_hand():
    # Rates per 1,000: A 3.0, B 1.0, C 2.0; D has no population and is left out.
    pc = peer_comparison(
        ["A", "B", "C", "D"], [30, 10, 20, 5], [10_000, 10_000, 10_000, None], focus="A"
    )
    assert pc.focus_rate == 3.0
    assert (pc.rest_count, pc.rest_population, pc.rest_rate) == (30.0, 20_000.0, 1.5)
    assert pc.group_pooled_rate == pytest.approx(2.0)  # 60 / 30,000
    assert pc.group_mean_rate == pytest.approx(2.0)  # (3 + 1 + 2) / 3
    assert (pc.rank, pc.n_ranked) == (1, 3)
    assert pc.excluded == (("D", "population is unknown"),)
    assert pc.rate_ratio == pytest.approx(2.0)
    # Given 60 incidents, A's share is Binomial(60, 1/3) if A's rate equals the rest's.
    assert pc.p_value == pytest.approx(stats.binomtest(30, 60, 1 / 3).pvalue, rel=1e-9)


def test_mean_of_rates_and_pooled_rate_differ_when_sizes_differ():
    # A small area with a high rate pulls the mean of rates up but barely moves the pool.
    pc = peer_comparison(
        ["big", "small", "mid"], [100, 10, 40], [100_000, 1_000, 20_000], focus="mid"
    )
    assert pc.group_mean_rate == pytest.approx((1.0 + 10.0 + 2.0) / 3)
    assert pc.group_pooled_rate == pytest.approx(1000 * 150 / 121_000)
    assert pc.rest_rate == pytest.approx(1000 * 110 / 101_000)
    assert pc.rank == 2
    expected_p = stats.binomtest(40, 150, 20_000 / 121_000).pvalue
    assert pc.p_value == pytest.approx(expected_p, rel=1e-9)


def test_ties_share_the_best_rank():
    pc = peer_comparison(["A", "B", "C", "D"], [5, 20, 20, 1], [1000] * 4, focus="C")
    assert pc.rank == 1
    pc = peer_comparison(["A", "B", "C", "D"], [5, 20, 20, 1], [1000] * 4, focus="A")
    assert pc.rank == 3


@pytest.mark.parametrize(
    ("codes", "counts", "pops", "focus", "match"),
    [
        (["A", "B"], [1, 2], [100, 100], "Z", "not in the group"),
        (["A", "B"], [1, 2], [0, 100], "A", "no rate"),
        (["A", "B"], [1, 2], [100, None], "A", "no peer"),
        (["A", "B"], [1.5, 2], [100, 100], "A", "whole numbers"),
        (["A", "A"], [1, 2], [100, 100], "A", "unique"),
        (["A", "B", "C"], [1, 2], [100, 100], "A", "same length"),
    ],
)
def test_peer_comparison_rejects_bad_input(codes, counts, pops, focus, match):
    with pytest.raises(ValueError, match=match):
        peer_comparison(codes, counts, pops, focus=focus)


def test_docstring_examples_run():
    result = doctest.testmod(csp_analytics.rates)
    assert result.attempted > 0 and result.failed == 0
