"""Getis-Ord Gi*, spatial weights and multiple-testing corrections, on hand-worked 3x3 and
4x4 fixtures. These need no reference library: the comparison with PySAL's esda is in
test_gi_star_esda.py. (How long 1,000 areas take: benchmarks/bench_analytics.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from shapely.geometry import box

from csp_analytics.hotspots import (
    Grid,
    adjust_pvalues,
    contiguity_weights,
    getis_ord_gi_star,
    grid_weights,
)

# --- weights ------------------------------------------------------------------------


def test_grid_weights_are_queen_contiguity_worked_by_hand():
    w = grid_weights(Grid(0.0, 0.0, 1.0, 3, 3)).toarray().astype(int)
    # cell 0 (south-west corner) touches 1, 3 and 4; the centre touches everything.
    assert w[0].tolist() == [0, 1, 0, 1, 1, 0, 0, 0, 0]
    assert w[4].tolist() == [1, 1, 1, 1, 0, 1, 1, 1, 1]
    assert_array_equal(w, w.T)


def test_grid_weights_follow_the_mask_order():
    mask = np.array([[True, True, False], [False, True, True]])
    w = grid_weights(Grid(0.0, 0.0, 1.0, 3, 2), mask).toarray().astype(int)
    # kept cells in flat order: (0,0) (0,1) (1,1) (1,2)
    assert w.tolist() == [[0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 0]]


def test_contiguity_queen_vs_rook_on_a_4x4_board():
    cells = [box(x, y, x + 1, y + 1) for y in range(4) for x in range(4)]
    queen = contiguity_weights(cells).toarray()
    rook = contiguity_weights(cells, rook=True).toarray()
    assert_array_equal(queen, grid_weights(Grid(0.0, 0.0, 1.0, 4, 4)).toarray())
    assert rook.sum(axis=1).tolist() == [2, 3, 3, 2, 3, 4, 4, 3, 3, 4, 4, 3, 2, 3, 3, 2]
    assert rook[0, 5] == 0 and queen[0, 5] == 1  # diagonal: queen only


# --- Gi* by hand ----------------------------------------------------------------------


def test_gi_star_z_worked_by_hand_on_a_4x4_grid():
    g = Grid(0.0, 0.0, 1.0, 4, 4)
    y = np.array([10, 8, 2, 1, 9, 7, 1, 0, 2, 1, 0, 1, 1, 0, 1, 2], dtype=float)
    r = getis_ord_gi_star(y, grid_weights(g), permutations=0, seed=None)
    n, xbar = 16, y.mean()
    s = np.sqrt((y**2).mean() - xbar**2)
    # Cell 5 (row 1, col 1): closed neighbourhood = cells 0,1,2,4,5,6,8,9,10, W = S1 = 9.
    local = y[[0, 1, 2, 4, 5, 6, 8, 9, 10]].sum()
    z5 = (local - 9 * xbar) / (s * np.sqrt((n * 9 - 81) / (n - 1)))
    # Cell 15 (north-east corner): cells 10, 11, 14, 15, W = 4.
    z15 = (y[[10, 11, 14, 15]].sum() - 4 * xbar) / (s * np.sqrt((n * 4 - 16) / (n - 1)))
    assert_allclose(r.z[[5, 15]], [z5, z15], rtol=1e-12)
    assert_allclose(r.g[5], local / y.sum())
    assert r.z[0] > 1.96 and r.z[15] < 0


def test_neighbour_lists_give_the_same_answer_as_a_sparse_matrix():
    g = Grid(0.0, 0.0, 1.0, 3, 3)
    w = grid_weights(g)
    lists = [list(w.indices[w.indptr[i] : w.indptr[i + 1]]) for i in range(9)]
    y = np.arange(9, dtype=float) ** 2
    a = getis_ord_gi_star(y, w, seed=3)
    b = getis_ord_gi_star(y, lists, seed=3)
    assert_allclose(a.z, b.z, equal_nan=True)
    assert_array_equal(a.p_sim, b.p_sim)


def test_row_standardised_weights_give_the_same_z_as_binary():
    # Ord & Getis's z is invariant to scaling a row, self-weight included, so
    # row-standardising (esda's transform="R") changes nothing here.
    w = grid_weights(Grid(0.0, 0.0, 1.0, 5, 4))
    y = np.random.default_rng(0).poisson(4, 20).astype(float)
    rows = np.asarray(w.sum(axis=1)).ravel() + 1.0  # neighbours + self
    standardised = w.multiply(1.0 / rows[:, None]).tocsr()
    a = getis_ord_gi_star(y, w, permutations=99, seed=5)
    b = getis_ord_gi_star(y, standardised, permutations=99, seed=5, self_weight=1.0 / rows)
    assert_allclose(a.z, b.z, rtol=1e-12)
    assert_array_equal(a.p_sim, b.p_sim)


def test_same_seed_same_p_values_and_inputs_untouched():
    w = grid_weights(Grid(0.0, 0.0, 1.0, 6, 6))
    y = np.random.default_rng(1).poisson(3, 36).astype(float)
    y_before, w_before = y.copy(), w.toarray().copy()
    a = getis_ord_gi_star(y, w, seed=42)
    b = getis_ord_gi_star(y, w, seed=42)
    c = getis_ord_gi_star(y, w, seed=43)
    assert_array_equal(a.p_sim, b.p_sim)
    assert not np.array_equal(a.p_sim, c.p_sim)
    assert_array_equal(y, y_before)
    assert_array_equal(w.toarray(), w_before)
    with pytest.raises(ValueError):
        a.z[0] = 0.0


def test_untestable_areas_get_p_one():
    # A 3x3 grid: the centre neighbours every other cell, so nothing can be permuted.
    y = np.array([9, 8, 1, 7, 6, 1, 1, 1, 1], dtype=float)
    r = getis_ord_gi_star(y, grid_weights(Grid(0.0, 0.0, 1.0, 3, 3)), seed=1)
    assert r.untestable == (4,)
    assert np.isnan(r.z[4]) and r.p_value[4] == 1.0 and not r.significant[4]


def test_island_is_untestable():
    cells = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2), box(9, 9, 10, 10)]
    r = getis_ord_gi_star([5.0, 4.0, 3.0, 1.0, 2.0], contiguity_weights(cells), seed=0)
    assert r.untestable == (4,) and r.p_sim[4] == 1.0


def test_constant_values_are_refused():
    with pytest.raises(ValueError, match="constant"):
        getis_ord_gi_star(np.ones(9), grid_weights(Grid(0.0, 0.0, 1.0, 3, 3)), seed=0)


# --- corrections --------------------------------------------------------------------


def test_benjamini_hochberg_and_bonferroni_worked_by_hand():
    p = [0.01, 0.04, 0.03, 0.20, 0.005]
    # sorted: 0.005 0.01 0.03 0.04 0.20, times m/rank = 5/1 5/2 5/3 5/4 5/5:
    #         0.025 0.025 0.05 0.05 0.20, then running minimum from the top.
    assert_allclose(adjust_pvalues(p), [0.025, 0.05, 0.05, 0.20, 0.025])
    assert_allclose(adjust_pvalues(p, "bonferroni"), [0.05, 0.2, 0.15, 1.0, 0.025])
    assert_allclose(adjust_pvalues(p, "none"), p)


def test_correction_changes_what_is_significant():
    g = Grid(0.0, 0.0, 1.0, 15, 15)
    y = np.random.default_rng(5).poisson(2, (15, 15)).astype(float)
    y[:4, :4] += 8  # a hot 4x4 block in the south-west corner
    kw = {"permutations": 9999, "seed": 9}
    none = getis_ord_gi_star(y.ravel(), grid_weights(g), correction="none", **kw)
    fdr = getis_ord_gi_star(y.ravel(), grid_weights(g), **kw)
    bonf = getis_ord_gi_star(y.ravel(), grid_weights(g), correction="bonferroni", **kw)
    assert none.significant.sum() >= fdr.significant.sum() >= bonf.significant.sum() >= 1
    assert fdr.hot.reshape(15, 15)[:4, :4].sum() >= 9  # most of the block is found
    assert_allclose(none.p_value, np.minimum(1, 2 * none.p_sim))
    assert fdr.notes == () and bonf.notes == ()


def test_it_warns_when_the_permutation_floor_defeats_the_correction():
    g = Grid(0.0, 0.0, 1.0, 40, 25)  # 1,000 areas
    y = np.random.default_rng(6).poisson(3, 1000).astype(float)
    bonf = getis_ord_gi_star(y, grid_weights(g), seed=1, correction="bonferroni")
    assert not bonf.significant.any()
    assert "Bonferroni cannot flag" in bonf.notes[0] and "39999" in bonf.notes[0]
    fdr = getis_ord_gi_star(y, grid_weights(g), seed=1)
    assert "at least 40 of the 1000" in fdr.notes[0]
