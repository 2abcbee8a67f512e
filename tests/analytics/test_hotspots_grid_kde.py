"""Grid, cell counts and kernel density (csp_analytics.hotspots).

Fixtures are tiny and worked by hand; the KDE is checked against an exact direct sum.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from shapely.geometry import Polygon, box

from csp_analytics.hotspots import Grid, grid_counts, kde_grid, silverman_bandwidth


def direct_kde(e, n, grid, h, kernel):
    """Exact sum over points of the kernel at every cell centre, per km^2."""
    cx, cy = grid.centres()
    d2 = (cx[:, None] - np.asarray(e)[None]) ** 2 + (cy[:, None] - np.asarray(n)[None]) ** 2
    if kernel == "quartic":
        k = 3 / (math.pi * h * h) * np.clip(1 - d2 / h**2, 0, None) ** 2
    else:
        k = np.exp(-d2 / (2 * h * h)) / (2 * math.pi * h * h)
    return k.sum(axis=1).reshape(grid.shape) * 1e6


# --- Grid ---------------------------------------------------------------------------


def test_grid_origin_is_aligned_to_the_cell_size_so_runs_agree():
    a = Grid.covering((414_453.2, 562_902.6, 430_122.8, 576_160.1), 100.0)
    b = Grid.covering((414_401.0, 562_999.9, 430_100.0, 576_100.0), 100.0)
    assert (a.x0, a.y0) == (414_400.0, 562_900.0)
    assert (b.x0, b.y0) == (414_400.0, 562_900.0)
    assert a.shape == (133, 158)


def test_grid_rejects_an_origin_off_the_cell_lattice():
    with pytest.raises(ValueError, match="multiple"):
        Grid(50.0, 0.0, 100.0, 2, 2)


def test_point_on_the_max_bound_still_falls_inside_the_covering_grid():
    g = Grid.covering((0.0, 0.0, 300.0, 200.0), 100.0)
    assert g.shape == (3, 4)
    assert g.cell_index([300.0], [200.0]).tolist() == [2 * 4 + 3]


def test_cell_index_is_half_open_row_major_and_minus_one_outside():
    g = Grid(0.0, 0.0, 100.0, 3, 2)  # 3 columns, 2 rows
    e = [0.0, 99.999, 100.0, 250.0, 299.0, -0.001, 300.0, np.nan]
    n = [0.0, 0.0, 0.0, 150.0, 199.0, 50.0, 50.0, 10.0]
    assert g.cell_index(e, n).tolist() == [0, 0, 1, 5, 5, -1, -1, -1]


def test_sw_corners_and_centres_follow_the_flat_order():
    g = Grid(1000.0, 2000.0, 100.0, 2, 2)
    x, y = g.sw_corners()
    assert x.tolist() == [1000.0, 1100.0, 1000.0, 1100.0]
    assert y.tolist() == [2000.0, 2000.0, 2100.0, 2100.0]
    cx, cy = g.centres()
    assert cx.tolist() == [1050.0, 1150.0, 1050.0, 1150.0]


def test_mask_intersects_keeps_every_cell_sharing_area_and_centre_rule_is_stricter():
    g = Grid(0.0, 0.0, 100.0, 4, 4)
    # A triangle with corners on cell corners: its hypotenuse runs through the diagonal
    # cells, which it halves; cells it only touches at a corner are not kept.
    tri = Polygon([(0, 0), (300, 0), (0, 300)])
    m = g.mask(tri)
    expected = np.array(
        [[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool
    )  # row 0 = south
    assert_array_equal(m, expected)
    # Centre rule: centres (50,50),(150,50),(50,150) are inside (x + y < 300); the
    # diagonal cells' centres (250,50),(150,150),(50,250) lie on the edge, not inside.
    c = g.mask(tri, rule="centre")
    assert c.sum() == 3 and c[0, 0] and c[0, 1] and c[1, 0]


def test_mask_does_not_keep_cells_that_only_touch_along_an_edge():
    g = Grid(0.0, 0.0, 100.0, 3, 1)
    assert g.mask(box(0, 0, 100, 100)).tolist() == [[True, False, False]]


def test_grid_counts_by_hand_and_inputs_untouched():
    g = Grid(0.0, 0.0, 100.0, 3, 3)
    e = np.array([10.0, 20.0, 150.0, 150.0, 299.0, 500.0])
    n = np.array([10.0, 30.0, 150.0, 160.0, 299.0, 10.0])
    before = (e.copy(), n.copy())
    counts = grid_counts(e, n, g)
    assert counts.tolist() == [[2, 0, 0], [0, 2, 0], [0, 0, 1]]
    assert counts.dtype == np.int64
    assert_array_equal(e, before[0])
    assert_array_equal(n, before[1])


# --- KDE ----------------------------------------------------------------------------


def test_kde_of_one_point_at_a_centre_is_the_quartic_kernel_worked_by_hand():
    g = Grid(0.0, 0.0, 100.0, 3, 3)
    r = kde_grid([150.0], [150.0], g, bandwidth=200.0)
    k0 = 3 / (math.pi * 200.0**2) * 1e6  # per km^2
    expected = np.array(
        [
            [k0 * (1 - 2 / 4) ** 2, k0 * (1 - 1 / 4) ** 2, k0 * (1 - 2 / 4) ** 2],
            [k0 * (1 - 1 / 4) ** 2, k0, k0 * (1 - 1 / 4) ** 2],
            [k0 * (1 - 2 / 4) ** 2, k0 * (1 - 1 / 4) ** 2, k0 * (1 - 2 / 4) ** 2],
        ]
    )
    assert_allclose(r.density, expected, rtol=1e-9)
    assert r.bandwidth_rule == "given" and r.kernel == "quartic" and r.n_points == 1


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
@pytest.mark.parametrize("h", [130.0, 250.0, 400.0])
def test_kde_matches_the_exact_direct_sum_within_the_stated_binning_bound(kernel, h):
    rng = np.random.default_rng(7)
    g = Grid(0.0, 0.0, 100.0, 8, 6)
    e = rng.uniform(-300, 1100, 40)
    n = rng.uniform(-300, 900, 40)
    r = kde_grid(e, n, g, bandwidth=h, kernel=kernel)
    exact = direct_kde(e, n, g, h, kernel)
    err = np.abs(r.density - exact).max()
    assert err <= r.error_bound_per_km2
    # ... and in practice the error is far below 1% of the peak density.
    assert err <= 0.01 * exact.max()


def test_kde_binning_error_shrinks_with_a_finer_lattice():
    rng = np.random.default_rng(3)
    g = Grid(0.0, 0.0, 100.0, 6, 6)
    e, n = rng.uniform(0, 600, 25), rng.uniform(0, 600, 25)
    exact = direct_kde(e, n, g, 250.0, "quartic")
    errs = [
        np.abs(kde_grid(e, n, g, bandwidth=250.0, oversample=r).density - exact).max()
        for r in (1, 3, 9)
    ]
    assert errs[0] > errs[1] > errs[2]


def test_kde_surface_integrates_to_the_number_of_points_away_from_edges():
    rng = np.random.default_rng(1)
    g = Grid(0.0, 0.0, 50.0, 60, 60)  # 3 km square
    e, n = rng.normal(1500, 200, 500), rng.normal(1500, 200, 500)
    r = kde_grid(e, n, g, bandwidth=300.0)
    assert_allclose(r.expected_per_cell.sum(), 500, rtol=2e-3)


def test_kde_default_bandwidth_is_silvermans_rule_worked_by_hand():
    e = np.array([0.0, 100.0, 200.0, 300.0])
    n = np.array([0.0, 0.0, 100.0, 100.0])
    # sd(e) = 129.10; IQR(e)/1.349 = 150/1.349 = 111.19 -> 111.19
    # sd(n) = 57.735; IQR(n)/1.349 = 100/1.349 = 74.13 -> 57.735
    sigma = math.sqrt(((150 / 1.349) ** 2 + (100 / math.sqrt(3)) ** 2) / 2)
    assert_allclose(silverman_bandwidth(e, n, kernel="gaussian"), sigma * 4 ** (-1 / 6))
    assert_allclose(silverman_bandwidth(e, n), 2.78 * sigma * 4 ** (-1 / 6))
    r = kde_grid(e, n, Grid(0.0, 0.0, 100.0, 4, 2))
    assert r.bandwidth_rule == "silverman"
    assert_allclose(r.bandwidth_m, 2.78 * sigma * 4 ** (-1 / 6))


def test_kde_needs_an_explicit_bandwidth_for_one_location():
    with pytest.raises(ValueError, match="bandwidth"):
        kde_grid([5.0, 5.0], [5.0, 5.0], Grid(0.0, 0.0, 10.0, 2, 2))


def test_kde_ignores_nan_and_far_points_and_counts_them():
    g = Grid(0.0, 0.0, 100.0, 2, 2)
    r = kde_grid([50.0, np.nan, 1e6], [50.0, 0.0, 1e6], g, bandwidth=150.0)
    assert (r.n_points, r.n_dropped) == (1, 2)


def test_kde_result_is_frozen_and_read_only():
    r = kde_grid([50.0], [50.0], Grid(0.0, 0.0, 100.0, 2, 2), bandwidth=150.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.bandwidth_m = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.density[0, 0] = 0.0
