"""Repeat locations, repeat victims and the Knox near-repeat test (csp_analytics.repeats)."""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from csp_analytics.repeats import (
    MONTH_CAVEAT,
    SNAP_DISTANCE_CAVEAT,
    knox_test,
    repeat_locations,
    repeat_locations_counted,
    repeat_victims,
)

from .police_points import newcastle_points

# --- repeat locations and victims ---------------------------------------------------


def test_repeat_locations_worked_by_hand():
    keys = ["A", "B", "A", "C", "A", "B", "D", None, "", float("nan")]
    r = repeat_locations(keys, top=2)
    # A x3, B x2, C x1, D x1; three records have no key.
    assert (r.n_records, r.n_missing, r.n_identified) == (10, 3, 7)
    assert (r.n_keys, r.n_repeat_keys, r.n_at_repeat_keys) == (4, 2, 5)
    assert r.top == (("A", 3), ("B", 2))
    assert r.distribution == ((1, 2), (2, 1), (3, 1))
    assert_allclose(r.share_at_repeat_keys, 5 / 7)
    assert_allclose(r.share_of_keys_repeat, 2 / 4)
    assert_allclose(r.share_that_are_repeats, 3 / 7)  # 7 incidents, 4 first visits
    assert r.label == "snap point" and "not addresses" in r.caveats[0]


def test_min_count_raises_the_bar_and_ties_are_ordered_by_key():
    r = repeat_locations(["b", "a", "b", "a", "c", "c", "c"], min_count=3, top=3)
    assert (r.n_repeat_keys, r.n_at_repeat_keys) == (1, 3)
    assert r.top == (("c", 3), ("a", 2), ("b", 2))


def test_repeat_locations_accept_tuples_and_numpy_arrays():
    lonlat = [(-1.6, 54.9), (-1.6, 54.9), (-1.5, 54.8)]
    assert repeat_locations(lonlat).n_repeat_keys == 1
    assert repeat_locations(np.array([3, 3, 4, 5, 5, 5])).top[0] == (5, 3)


def test_repeat_victims_count_missing_and_hide_identifiers_by_default():
    ids = ["v1", "v2", "v1", None, "v1", "v3", "v2", ""]
    r = repeat_victims(ids, label="caller")
    assert (r.n_records, r.n_missing, r.n_keys, r.n_repeat_keys) == (8, 2, 3, 2)
    assert r.top == ()  # personal identifiers only on request
    assert_allclose(r.share_that_are_repeats, (6 - 3) / 6)
    assert_allclose(r.mean_per_key, 2.0)
    assert "Caller identifiers" in r.caveats[0]
    assert repeat_victims(ids, top=1).top == (("v1", 3),)


def test_nothing_identified_gives_nan_shares_not_errors():
    r = repeat_victims([None, ""])
    assert r.n_identified == 0 and math.isnan(r.share_at_repeat_keys)


# --- Knox ---------------------------------------------------------------------------


def brute_force_table(e, n, t, s, tau, n_space, n_time, same_m=1.0):
    """Every pair, by hand: space band x time band counts."""
    table = np.zeros((n_space + 1, n_time), dtype=int)
    for i, j in combinations(range(len(e)), 2):
        d = math.hypot(e[i] - e[j], n[i] - n[j])
        sb = 0 if d <= same_m else math.ceil(d / s)
        tb = abs(t[i] - t[j]) // (tau + 1)
        if sb <= n_space and tb < n_time:
            table[sb, tb] += 1
    return table


def test_knox_on_a_tiny_pattern_worked_by_hand():
    # Points: two at one snap point (same month), one 150 m away a month later,
    # one 1 km away. With 100 m bands and same-month closeness:
    e = [0.0, 0.0, 150.0, 1000.0]
    n = [0.0, 0.0, 0.0, 0.0]
    t = [5, 5, 6, 9]
    r = knox_test(e, n, t, space_threshold_m=100, time_threshold=0, permutations=99, seed=1)
    # pairs: (0,1) same place, dt 0; (0,2),(1,2) 150 m -> band 2, dt 1; others > 400 m.
    expected = np.zeros((5, 4), dtype=int)
    expected[0, 0] = 1
    expected[2, 1] = 2
    assert_array_equal(r.table.observed, expected)
    assert r.observed == 1  # close in space (<= 100 m) and time (same month)
    assert r.table.space_labels[:3] == ("same location (<= 1 m)", "0-100 m", "100-200 m")
    assert r.table.time_labels == ("0 months", "1 months", "2 months", "3 months")


@pytest.mark.parametrize("tau", [0, 1, 2])
def test_knox_table_matches_a_brute_force_count(tau):
    rng = np.random.default_rng(tau)
    snap = rng.uniform(0, 1500, (25, 2))  # events share 25 snap points
    pick = rng.integers(0, 25, 60)
    e, n = snap[pick, 0], snap[pick, 1]
    t = rng.integers(0, 12, 60)
    r = knox_test(e, n, t, space_threshold_m=200, time_threshold=tau, permutations=19, seed=0)
    bf = brute_force_table(e, n, t, 200, tau, 4, 4)
    assert_array_equal(r.table.observed, bf)
    assert r.observed == bf[:2, 0].sum()


def test_knox_expected_counts_converge_to_the_exact_permutation_mean():
    # Under random permutation of times, a pair gets two distinct events' times, so
    # E[count in (space band, time band)] = pairs in the space band x
    # share of ordered pairs of distinct events whose time gap is in the time band.
    rng = np.random.default_rng(3)
    e, n = rng.uniform(0, 2000, 80), rng.uniform(0, 2000, 80)
    t = rng.integers(0, 10, 80)
    r = knox_test(e, n, t, space_threshold_m=250, time_threshold=1, permutations=999, seed=4)
    space_pairs = brute_force_table(e, n, np.zeros(80, dtype=int), 250, 1, 4, 1)[:, 0]
    gaps = np.abs(t[:, None] - t[None, :])[~np.eye(80, dtype=bool)] // 2
    q = np.array([(gaps == c).mean() for c in range(4)])
    exact = space_pairs[:, None] * q[None, :]
    assert_allclose(r.table.expected, exact, rtol=0.1, atol=0.5)
    with np.errstate(invalid="ignore"):  # 0 / 0 in the empty "same location" row
        assert_allclose(r.table.ratio, r.table.observed / r.table.expected)


def test_knox_detects_planted_near_repeats_and_not_random_ones():
    rng = np.random.default_rng(8)
    e, n = rng.uniform(0, 5000, 300), rng.uniform(0, 5000, 300)
    t = rng.integers(0, 24, 300)
    null = knox_test(e, n, t, space_threshold_m=200, time_threshold=0, seed=1)
    assert null.p_value > 0.05
    # plant 40 follow-ups 50 m away in the same month
    idx = rng.integers(0, 300, 40)
    e2, n2, t2 = np.r_[e, e[idx] + 50], np.r_[n, n[idx]], np.r_[t, t[idx]]
    planted = knox_test(e2, n2, t2, space_threshold_m=200, time_threshold=0, seed=1)
    assert planted.ratio > 1.5 and planted.p_value <= 0.002
    assert planted.table.p_value[1, 0] <= 0.002  # 0-200 m, same month


def test_knox_is_seeded_drops_missing_and_leaves_inputs_alone():
    rng = np.random.default_rng(2)
    e, n = rng.uniform(0, 1000, 50), rng.uniform(0, 1000, 50)
    t = rng.integers(0, 6, 50).astype(float)
    e[3] = np.nan
    before = (e.copy(), n.copy(), t.copy())
    a = knox_test(e, n, t, space_threshold_m=150, time_threshold=0, permutations=99, seed=7)
    b = knox_test(e, n, t, space_threshold_m=150, time_threshold=0, permutations=99, seed=7)
    assert_array_equal(a.table.expected, b.table.expected)
    assert (a.n_events, a.n_dropped) == (49, 1)
    for x, y in zip((e, n, t), before):
        assert_array_equal(x, y)


def test_knox_says_plainly_what_month_precision_and_snap_points_hide():
    r = knox_test(
        [0, 10], [0, 0], [0, 1], space_threshold_m=100, time_threshold=0, seed=0, permutations=9
    )
    assert r.caveats == (MONTH_CAVEAT, SNAP_DISTANCE_CAVEAT)
    assert "scale of months" in r.caveats[0] and "days" in r.caveats[0]
    assert "100-200 m" in r.caveats[1]
    days = knox_test(
        [0, 10],
        [0, 0],
        [0, 1],
        space_threshold_m=100,
        time_threshold=0,
        seed=0,
        permutations=9,
        time_unit="day",
        snapped_locations=False,
    )
    assert days.caveats == ()


def test_knox_refuses_fractional_times():
    with pytest.raises(ValueError, match="whole numbers"):
        knox_test([0, 1], [0, 1], [0.5, 1], space_threshold_m=10, time_threshold=0, seed=0)


def test_knox_on_real_newcastle_burglary():
    p = newcastle_points()
    b = p.select(p.crime_type == "Burglary")
    r = knox_test(b.e, b.n, b.month, space_threshold_m=200, time_threshold=0, seed=2004)
    assert r.n_events == b.e.size > 3000
    # Burglaries at one snap point in one month are more common than chance: the
    # only near-repeat signal month-precision data can show.
    assert r.table.ratio[0, 0] > 1.0
    assert MONTH_CAVEAT in r.caveats
    locs = repeat_locations(zip(b.location, b.lon.round(6), b.lat.round(6)), top=5)
    assert locs.n_keys < b.e.size and locs.share_at_repeat_keys > 0.5


def test_repeat_locations_from_counts_equal_those_from_one_key_per_incident():
    """The counted form (the platform's database counts per snap point) gives the same
    summary as one key per incident, missing keys included."""
    rng = np.random.default_rng(7)
    keys = [f"point {k}" for k in rng.integers(0, 300, size=5_000)] + [None] * 12 + [""] * 3
    rng.shuffle(keys)
    counted = repeat_locations_counted(Counter(keys), top=15)
    assert counted == repeat_locations(keys, top=15)
    assert counted.n_missing == 15 and counted.n_records == 5_015
    with pytest.raises(ValueError, match="negative"):
        repeat_locations_counted({"a": -1})
