"""csp_analytics.evaluation against examples worked by hand (the working is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from csp_analytics.evaluation import (
    choose_comparisons,
    did_rate_ratio,
    dispersion,
    evaluate,
    weighted_displacement_quotient,
)

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]


def test_comparisons_are_the_nearest_in_level_and_trend():
    # Area: 4, 6, 8 (mean 6, slope 2, trend 2/6*3 = 1.0, level ln 6.5).
    # c0: 6, 6, 6: level 0, trend diff 1.0          -> distance 1.0
    # c1: 8, 12, 16: mean 12, slope 4, trend 1.0, level ln(12.5/6.5) = 0.6539 -> 0.6539
    # c2: 4, 6, 8: identical                         -> 0
    m = choose_comparisons([4, 6, 8], [[6, 6, 6], [8, 12, 16], [4, 6, 8]], k=2)
    assert m.chosen == (2, 1)
    assert_allclose(m.distance, [1.0, math.log(12.5 / 6.5), 0.0], atol=1e-12)
    assert_allclose([m.level, m.trend], [math.log(6.5), 1.0], atol=1e-12)


def test_comparisons_refuse_missing_months():
    with pytest.raises(ValueError, match="complete months"):
        choose_comparisons([1, 2], [[1, np.nan]])


def test_dispersion_is_the_pearson_statistic_per_degree_of_freedom():
    # [1, 3, 5]: mean 3, (4 + 0 + 4) / 3 = 2.667 on 2 df; [10, 14]: mean 12, (4 + 4)/12
    # = 0.667 on 1 df; [0, 0] adds nothing. (2.667 + 0.667) / 3 = 1.1111
    assert_allclose(dispersion([[1, 3, 5], [10, 14], [0, 0]]), 10 / 9, rtol=1e-12)
    assert dispersion([[5, 5], [7, 7]]) == 1.0  # never below Poisson


def test_did_scales_the_interval_by_the_dispersion():
    # 100 -> 80 against 400 -> 380, phi 2: se = sqrt(2 * 0.0276316) = 0.23508,
    # z = ln(0.842105) / 0.23508 = -0.73102, p = 0.4648
    d = did_rate_ratio(100, 80, 400, 380, months_before=12, months_after=12, phi=2)
    assert_allclose(d.se_log, 0.235082, rtol=1e-5)
    assert_allclose(d.p_value, 0.4648, atol=1e-4)
    assert_allclose([d.area_change, d.comparison_change], [-0.2, -0.05], atol=1e-12)


def test_did_compares_means_per_month_over_unequal_periods():
    # 60 in 6 months (10 a month) -> 15 in 3 (5 a month): -50%; comparison 120 -> 60 is
    # 20 a month both times: 0%. Ratio (15/60) / (60/120) = 0.5.
    d = did_rate_ratio(60, 15, 120, 60, months_before=6, months_after=3)
    assert_allclose([d.area_change, d.comparison_change, d.ratio], [-0.5, 0.0, 0.5], atol=1e-12)


def test_did_corrects_a_zero_count():
    # 10 -> 0 against 50 -> 50: (0.5 / 10.5) / (50.5 / 50.5) = 0.047619
    d = did_rate_ratio(10, 0, 50, 50, months_before=3, months_after=3)
    assert_allclose(d.ratio, 0.5 / 10.5, rtol=1e-12)


def test_wdq_flags_displacement_larger_than_the_fall():
    # Area 50 -> 30, ring 80 -> 120, control 200 -> 200.
    # success 30/200 - 50/200 = -0.1; buffer 120/200 - 80/200 = 0.2; WDQ = 0.2 / -0.1 = -2.
    # Ring test: ratio 1.5, se sqrt(1/80 + 1/120 + 1/200 + 1/200) = 0.175594,
    # z = 0.405465 / 0.175594 = 2.3091, p = 0.0209 -> displaced.
    w = weighted_displacement_quotient(
        (50, 30), (80, 120), (200, 200), months_before=6, months_after=6
    )
    assert_allclose([w.success, w.buffer_measure, w.wdq], [-0.1, 0.2, -2.0], atol=1e-12)
    assert_allclose(w.ring.p_value, 0.0209, atol=1e-4)
    assert w.displaced
    assert "larger than the fall" in w.words


def test_wdq_is_undefined_when_the_area_did_not_improve():
    w = weighted_displacement_quotient(
        (30, 50), (40, 40), (200, 200), months_before=6, months_after=6
    )
    assert w.wdq is None
    assert "nothing to displace" in w.words


def test_the_verdict_names_changes_chance_and_displacement():
    # Area 20 a month -> 12 a month (120 -> 72, -40%); comparisons A (20) and C (19)
    # (k=2; B at 22 and D at 200 are further): 234 -> 234, no change. Ring 30 a month both
    # times (180 -> 180). phi 1 (no month varies).
    # ratio 72/120 = 0.6; se sqrt(1/120 + 1/72 + 2/234) = 0.175412; z = ln 0.6 / se =
    # -0.510826 / 0.175412 = -2.9122, p = 2 * 0.001795 = 0.0036.
    # Ring ratio 1, p = 1: no displacement.
    e = evaluate(
        what="ASB",
        months=MONTHS,
        n_before=6,
        area=[20] * 6 + [12] * 6,
        pool=[[20] * 12, [22] * 12, [19] * 12, [200] * 12],
        pool_names=["A", "B", "C", "D"],
        ring=[30] * 12,
        k=2,
        comparison_word="comparison wards",
    )
    assert not e.refused
    assert e.comparison == ("A", "C")
    assert e.counts == {"area": (120, 72), "comparison": (234, 234), "ring": (180, 180)}
    assert e.did is not None
    assert_allclose(e.did.se_log, math.sqrt(1 / 120 + 1 / 72 + 2 / 234), rtol=1e-12)
    assert_allclose(e.did.p_value, 0.0036, atol=1e-4)
    assert e.verdict.startswith(
        "ASB in the area fell 40% against no change in the comparison wards; the difference "
        "is unlikely to be chance (p = 0.004;"
    )
    assert e.verdict.endswith("no sign of displacement into the surrounding 500 m (p = 1.00).")
    assert e.outcome == "fell"


def test_a_small_change_could_be_chance():
    # 12 -> 11 a month against level comparisons: p well above 0.05.
    e = evaluate(
        what="Fly-tipping",
        months=MONTHS,
        n_before=6,
        area=[12] * 6 + [11] * 6,
        pool=[[12] * 12, [13] * 12],
        pool_names=["A", "B"],
    )
    assert e.outcome == "no clear change"
    assert "fell 8% against no change" in e.verdict
    assert "could well be chance" in e.verdict


def test_a_missing_month_refuses_the_verdict_and_names_it():
    area = [20.0] * 12
    area[3] = math.nan
    e = evaluate(
        what="ASB", months=MONTHS, n_before=6, area=area, pool=[[20] * 12], pool_names=["A"]
    )
    assert e.refused and e.outcome == "refused"
    assert e.reasons == ("the area has no data for 2024-04",)
    assert e.verdict == "No verdict: the area has no data for 2024-04."


def test_runs_of_missing_months_are_named_as_ranges():
    area = [20.0] * 12
    for i in (0, 1, 2, 7):
        area[i] = math.nan
    e = evaluate(
        what="ASB", months=MONTHS, n_before=6, area=area, pool=[[20] * 12], pool_names=["A"]
    )
    assert e.reasons == ("the area has no data for 2024-01 to 2024-03, 2024-08",)


def test_a_candidate_with_a_gap_is_dropped_not_counted_as_zero():
    gap = [20.0] * 12
    gap[8] = math.nan
    e = evaluate(
        what="ASB",
        months=MONTHS,
        n_before=6,
        area=[20] * 6 + [10] * 6,
        pool=[gap, [30] * 12],
        pool_names=["Gap", "Full"],
    )
    assert e.comparison == ("Full",)
    assert e.counts is not None and e.counts["comparison"] == (180, 180)


def test_too_few_incidents_or_months_refuse_with_every_reason():
    e = evaluate(
        what="ASB",
        months=MONTHS[:4],
        n_before=2,
        area=[1, 2, 0, 1],
        pool=[[1, 1, 1, 1]],
        pool_names=["A"],
    )
    assert e.reasons == (
        "at least 3 months are needed before and after the start (there are 2 before and 2 after)",
    )
    e = evaluate(
        what="ASB",
        months=MONTHS,
        n_before=6,
        area=[1] * 12,
        pool=[[1] * 12],
        pool_names=["A"],
    )
    assert e.reasons == (
        "only 6 ASB in the area before the start (at least 10 needed)",
        "only 6 ASB in the comparison areas in one period (at least 10 needed)",
    )
    assert e.did is None


def test_no_comparison_with_complete_months_refuses():
    e = evaluate(
        what="ASB",
        months=MONTHS,
        n_before=6,
        area=[20] * 12,
        pool=[[math.nan] * 12],
        pool_names=["A"],
    )
    assert e.reasons == ("no comparison areas have data for every month",)


def test_inputs_are_not_modified():
    area = np.array([20.0] * 6 + [12.0] * 6)
    pool = np.array([[20.0] * 12])
    evaluate(what="ASB", months=MONTHS, n_before=6, area=area, pool=pool, pool_names=["A"])
    assert_allclose(area, [20.0] * 6 + [12.0] * 6)
    assert_allclose(pool, [[20.0] * 12])
