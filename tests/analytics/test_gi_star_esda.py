"""Gi* against PySAL's esda.G_Local(star=True): a synthetic grid and real Cleveland ward
counts (police.uk 2019-01, wards of 2013; read in place).

esda and libpysal are test dependencies (pyproject's ``test`` extra): without them this
module fails to import rather than skipping.
"""

from __future__ import annotations

import warnings

import esda
import libpysal
import numpy as np
import shapely
from numpy.testing import assert_allclose, assert_array_equal

from csp_analytics.hotspots import Grid, contiguity_weights, getis_ord_gi_star, grid_weights

from .police_points import cleveland_points, cleveland_wards


def to_w(sparse):
    """libpysal W from a scipy sparse matrix (same row order)."""
    return libpysal.weights.WSP(sparse.tocsr()).to_W(silence_warnings=True)


def esda_gi_star(y, sparse, *, transform="B", seed=12345):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(
            y, to_w(sparse), transform=transform, star=True, permutations=999, seed=seed
        )


# --- against esda -------------------------------------------------------------------


def test_matches_esda_on_a_synthetic_grid():
    g = Grid(0.0, 0.0, 1.0, 12, 10)
    y = np.random.default_rng(11).poisson(3, 120).astype(float)
    y[30:40] += 5
    w = grid_weights(g)
    ours = getis_ord_gi_star(y, w, seed=1)
    ref = esda_gi_star(y, w)
    assert_allclose(ours.z, ref.Zs, atol=1e-6)
    assert_allclose(ours.g, ref.Gs, atol=1e-12)
    assert_close_p_values(ours.p_sim, np.asarray(ref.p_sim, dtype=float), 999)


def test_esda_row_standardised_z_is_the_local_mean_deviation_not_ord_getis():
    # The documented difference: esda's default transform="R" gives (mean of the
    # closed neighbourhood - xbar) / s, which is not standard normal under the null.
    w = grid_weights(Grid(0.0, 0.0, 1.0, 6, 5))
    y = np.random.default_rng(2).poisson(4, 30).astype(float)
    ref = esda_gi_star(y, w, transform="R")
    k = np.asarray(w.sum(axis=1)).ravel() + 1
    local_mean = (w @ y + y) / k
    assert_allclose(ref.Zs, (local_mean - y.mean()) / y.std(), atol=1e-9)
    ours = getis_ord_gi_star(y, w, permutations=0, seed=None)
    assert np.abs(ours.z).mean() > 1.5 * np.abs(ref.Zs).mean()


def assert_close_p_values(ours, ref, permutations):
    """Two independent Monte Carlo estimates of the same p-values agree statistically.

    Each p is a binomial proportion over ``permutations`` draws; the difference of two
    independent estimates has sd ~ sqrt(2 p (1 - p) / P). Allow 5 sd per area (plus one
    step for ties) and require the mean difference to be near zero.
    """
    p = np.clip((ours + ref) / 2, 1 / permutations, 0.5)
    sd = np.sqrt(2 * p * (1 - p) / permutations)
    assert np.all(np.abs(ours - ref) <= 5 * sd + 2 / permutations)
    assert abs(np.mean(ours - ref)) <= 3 * np.sqrt(np.mean(sd**2) / ours.size) + 1e-3
    assert np.corrcoef(ours, ref)[0, 1] > 0.95


def test_matches_esda_on_real_cleveland_ward_counts():
    codes, names, wards = cleveland_wards()
    pts = cleveland_points("2019-01")
    tree = shapely.STRtree(np.asarray(wards, dtype=object))
    pt_idx, ward_idx = tree.query(shapely.points(pts.e, pts.n), predicate="within")
    counts = np.bincount(ward_idx, minlength=len(wards)).astype(float)
    assert len(wards) == 82
    assert counts.sum() > 0.97 * pts.e.size  # nearly every crime falls in a ward
    w = contiguity_weights(wards)
    # Same neighbours as libpysal's vertex-based queen contiguity on these polygons.
    ref_w = libpysal.weights.Queen.from_iterable(wards, silence_warnings=True)
    assert_array_equal(w.toarray(), ref_w.sparse.toarray())
    ours = getis_ord_gi_star(counts, w, seed=2019)
    ref = esda_gi_star(counts, w)
    assert_allclose(ours.z, ref.Zs, atol=1e-6)
    assert_close_p_values(ours.p_sim, np.asarray(ref.p_sim, dtype=float), 999)
    # The highest z-scores are Middlesbrough's central wards. Counts are very skewed
    # (Middlehaven 550 against a mean of 94), so the permutation p-values are much
    # larger than the normal approximation suggests, and with 82 wards none survives
    # the FDR correction in this one month.
    order = np.argsort(-ours.z)
    assert {names[i] for i in order[:2]} == {"Middlehaven", "University"}
    assert np.all(ours.p_value[order[:4]] > 5 * ours.p_norm[order[:4]])
    assert np.all(ours.p_adjusted >= ours.p_value)
    assert ours.significant.sum() <= (ours.p_value <= 0.05).sum()
