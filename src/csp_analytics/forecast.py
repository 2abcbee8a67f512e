"""Next month's hotspots on a grid, and an honest backtest of how well that works.

Coordinates are metres on the British National Grid (EPSG:27700); months are integers
(any consecutive numbering, e.g. ``year * 12 + month - 1``). A forecast *through* month
``T`` uses incidents of months ``<= T`` only and is a ranking of grid cells for month
``T + 1``. That rule is enforced inside :func:`forecast` (rows after ``T`` are dropped
before anything else happens), so no caller can leak the future into a forecast.

Months with no rows are **gaps** (police.uk Northumbria 2022-01 is missing), not
months with zero crime: they are left out of training averages and never scored.

References
----------
Bowers, K. J., Johnson, S. D. & Pease, K. (2004). Prospective hot-spotting: the future
of crime mapping? *British Journal of Criminology* 44(5), 641-658.

Chainey, S., Tompson, L. & Uhlig, S. (2008). The utility of hotspot mapping for
predicting spatial patterns of crime. *Security Journal* 21, 4-28.

Johnson, S. D. et al. (2007). *Prospective crime mapping in operational context*.
Home Office Online Report 19/07.

Mohler, G. O. et al. (2015). Randomized controlled field trials of predictive policing.
*Journal of the American Statistical Association* 110(512), 1399-1411 (``sepp``).

The learned ranker (``ranker``) and ``sepp`` live in :mod:`csp_analytics.forecast_models`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.ndimage import convolve
from scipy.stats import binomtest

from csp_analytics._arrays import BoolArray, FloatArray, IntArray, readonly
from csp_analytics.forecast_models import calendar, ranker_scores, sepp_scores
from csp_analytics.hotspots import Grid

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "NAIVE",
    "Backtest",
    "GridForecast",
    "backtest",
    "forecast",
    "hit_rate",
    "last_months",
]


#: Forecasting methods, naive baselines first.
METHODS: tuple[str, ...] = (
    "last_month",
    "last_12_months",
    "long_run_average",
    "prospective",
    "blend",
    "ranker",
    "sepp",
)
#: The naive baselines a method must beat (a map of past counts, nothing learned).
NAIVE: tuple[str, ...] = ("last_month", "last_12_months", "long_run_average")
#: Plain names, for sentences ("this forecast uses the learned ranker").
METHOD_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "last_month": "last month's map",
        "last_12_months": "last year's map",
        "long_run_average": "the long-run average map",
        "prospective": "prospective hot-spotting",
        "blend": "the smoothed blend",
        "ranker": "the learned ranker",
        "sepp": "the self-exciting model",
    }
)
#: Category groups the ranker's category-mix features keep apart (the rest are pooled).
_MIX_GROUPS = 6

#: The blend's fallback settings, and the candidate it keeps unless another candidate
#: beats it by ``_BLEND_MARGIN`` (hit rate) in the inner backtest. Chosen on other
#: districts (Sunderland, Gateshead, North Tyneside), never on the area being scored.
_BLEND_DEFAULTS: dict[str, float] = {
    "bandwidth_cells": 1.5,
    "smooth_share": 0.05,
    "recency": 0.5,
    "half_life": 3.0,
}
_BLEND_MARGIN = 0.005
#: Candidate settings the inner backtest chooses from (fixed in advance).
_BLEND_BANDWIDTHS = (1.5, 2.5, 4.0)
_BLEND_SMOOTH_SHARES = (0.05, 0.2, 0.5, 1.0)
_BLEND_RECENCY = (
    (0.0, 6.0),
    (0.25, 3.0),
    (0.25, 6.0),
    (0.25, 12.0),
    (0.5, 3.0),
    (0.5, 6.0),
    (0.5, 12.0),
)


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridForecast:
    """Scores for the study-area cells of a grid: higher = more crime expected.

    Attributes
    ----------
    x_sw, y_sw : numpy.ndarray
        South-west corner of each cell, EPSG:27700 metres (cells inside the mask only,
        flat row-major order of the grid).
    size_m : float
        Cell side in metres.
    score : numpy.ndarray
        Expected relative intensity per cell for month ``target``. Only the ranking is
        meaningful across methods.
    cell_index : numpy.ndarray
        Flat grid index (``iy * nx + ix``) of each cell.
    grid : Grid
    method : str
    through, target : int
        Last month used, and the month forecast (``through + 1``).
    training_months : tuple of int
        Months with data that the forecast used (gaps excluded).
    params : Mapping
        Method parameters actually used (for ``blend``: the ones its inner backtest
        chose).
    crs : str
        Always ``"EPSG:27700"``.
    """

    x_sw: FloatArray
    y_sw: FloatArray
    size_m: float
    score: FloatArray
    cell_index: IntArray
    grid: Grid
    method: str
    through: int
    target: int
    training_months: tuple[int, ...]
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    crs: str = "EPSG:27700"

    def top(self, coverage: float) -> IntArray:
        """Positions (into this forecast's arrays) of the top ``coverage`` share of cells.

        Ties in score are broken by grid cell index (south-west first), so the list is
        deterministic. Scoring in :func:`backtest` does not depend on this order.
        """
        k = _n_top(coverage, self.score.size)
        order = np.lexsort((self.cell_index, -self.score))
        return np.asarray(order[:k], dtype=np.int64)

    def as_grid(self) -> FloatArray:
        """Scores as a ``(ny, nx)`` array, NaN outside the study area."""
        out = np.full(self.grid.n_cells, np.nan)
        out[self.cell_index] = self.score
        return out.reshape(self.grid.shape)


@dataclass(frozen=True)
class Backtest:
    """Monthly out-of-sample accuracy of forecasting methods.

    Attributes
    ----------
    methods : tuple of str
    months : tuple of int
        Months scored (each forecast from data through the month before).
    skipped : tuple of (int, str)
        Months asked for but not scored, with the reason (no data, no training data).
    coverages : tuple of float
        Shares of the study area flagged (e.g. 0.05 = top 5% of cells).
    area_share : numpy.ndarray
        Share actually flagged per coverage (whole cells: ``k / n_cells``).
    hit_rate, pai : numpy.ndarray
        ``(method, month, coverage)``: share of the month's incidents in the flagged
        cells, and the Predictive Accuracy Index ``hit_rate / area_share``
        (Chainey, Tompson & Uhlig 2008).
    n_incidents : numpy.ndarray
        Incidents scored per month (inside the study area).
    n_cells : int
        Cells in the study area mask.
    """

    methods: tuple[str, ...]
    months: tuple[int, ...]
    skipped: tuple[tuple[int, str], ...]
    coverages: tuple[float, ...]
    area_share: FloatArray
    hit_rate: FloatArray
    pai: FloatArray
    n_incidents: IntArray
    n_cells: int

    def mean_hit_rate(self) -> FloatArray:
        """``(method, coverage)`` mean of the monthly hit rates."""
        return np.asarray(self.hit_rate.mean(axis=1), dtype=np.float64)

    def mean_pai(self) -> FloatArray:
        """``(method, coverage)`` mean of the monthly PAI."""
        return np.asarray(self.pai.mean(axis=1), dtype=np.float64)

    def _cov(self, coverage: float) -> int:
        hits = [i for i, c in enumerate(self.coverages) if math.isclose(c, coverage)]
        if not hits:
            raise ValueError(f"coverage {coverage} was not scored; have {self.coverages}")
        return hits[0]

    def best(self, coverage: float = 0.05) -> str:
        """Method with the highest mean PAI at ``coverage`` (ties: first listed)."""
        return self.methods[int(np.argmax(self.mean_pai()[:, self._cov(coverage)]))]

    def best_naive(self, coverage: float = 0.05) -> str | None:
        """The naive baseline (:data:`NAIVE`) with the highest mean PAI at ``coverage``."""
        naive = [m for m in self.methods if m in NAIVE]
        if not naive or not self.months:
            return None
        pai = self.mean_pai()[:, self._cov(coverage)]
        return max(naive, key=lambda m: (pai[self.methods.index(m)], -NAIVE.index(m)))

    def months_beating_naive(self, coverage: float = 0.05) -> IntArray:
        """Per method: months in which its PAI at ``coverage`` beat the best naive
        baseline's PAI that month (the best naive one is :meth:`best_naive`)."""
        base = self.best_naive(coverage)
        if base is None:
            return np.zeros(len(self.methods), dtype=np.int64)
        j = self._cov(coverage)
        ref = self.pai[self.methods.index(base), :, j]
        return np.asarray((self.pai[:, :, j] > ref[None, :]).sum(axis=1), dtype=np.int64)

    def table(self) -> list[dict[str, Any]]:
        """One row per method x coverage: mean hit rate and PAI, their spread over the
        months (standard deviation, lowest and highest month) and the months in which
        the method beat the best naive baseline at that coverage."""
        hr, pai = self.mean_hit_rate(), self.mean_pai()
        n = len(self.months)
        sd_hr = self.hit_rate.std(axis=1, ddof=1) if n > 1 else np.full(hr.shape, np.nan)
        sd_pai = self.pai.std(axis=1, ddof=1) if n > 1 else np.full(pai.shape, np.nan)
        lo = self.pai.min(axis=1) if n else np.full(pai.shape, np.nan)
        hi = self.pai.max(axis=1) if n else np.full(pai.shape, np.nan)
        beats = [self.months_beating_naive(c) for c in self.coverages]
        return [
            {
                "method": m,
                "coverage": c,
                "hit_rate": float(hr[i, j]),
                "pai": float(pai[i, j]),
                "hit_rate_sd": float(sd_hr[i, j]),
                "pai_sd": float(sd_pai[i, j]),
                "pai_min": float(lo[i, j]),
                "pai_max": float(hi[i, j]),
                "months_beating_naive": int(beats[j][i]),
                "months": n,
            }
            for i, m in enumerate(self.methods)
            for j, c in enumerate(self.coverages)
        ]

    def versus(self, method: str, baseline: str, coverage: float = 0.05) -> dict[str, float]:
        """How ``method`` compares with ``baseline`` month by month at ``coverage``.

        Returns mean PAIs, the relative PAI gain, the hit-rate gain in points, the
        months won and lost, and a one-sided sign test p-value (months with equal PAI
        are left out), which asks whether winning that often could be luck.
        """
        j = self._cov(coverage)
        a, b = self.methods.index(method), self.methods.index(baseline)
        wins = int((self.pai[a, :, j] > self.pai[b, :, j]).sum())
        losses = int((self.pai[a, :, j] < self.pai[b, :, j]).sum())
        p = (
            binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue
            if wins + losses
            else 1.0
        )
        pai, hr = self.mean_pai()[:, j], self.mean_hit_rate()[:, j]
        return {
            "pai": float(pai[a]),
            "baseline_pai": float(pai[b]),
            "pai_gain": float(pai[a] / pai[b] - 1),
            "hit_rate_gain_points": float(100 * (hr[a] - hr[b])),
            "months_won": wins,
            "months_lost": losses,
            "sign_test_p": float(p),
        }

    def summary(self, coverage: float = 0.05) -> str:
        """Plain-English verdict: the best method at ``coverage`` against the baselines."""
        j = self._cov(coverage)
        pai, hr = self.mean_pai()[:, j], self.mean_hit_rate()[:, j]
        best = self.best(coverage)
        b = self.methods.index(best)
        lines = [
            f"Backtest over {len(self.months)} months ({len(self.skipped)} skipped), "
            f"{self.n_cells} cells; flagging {100 * self.area_share[j]:.1f}% of the area.",
            f"Best at {100 * coverage:g}% coverage: {best} "
            f"(mean PAI {pai[b]:.2f}, mean hit rate {100 * hr[b]:.1f}%).",
        ]
        naive = self.best_naive(coverage)
        if naive is not None and naive != best:
            won = int(self.months_beating_naive(coverage)[b])
            lines.append(
                f"  It beat the best naive baseline ({naive}) in {won} of "
                f"{len(self.months)} months."
            )
        for base in NAIVE:
            if base not in self.methods or base == best:
                continue
            v = self.versus(best, base, coverage)
            lines.append(
                f"  vs {base}: PAI {v['baseline_pai']:.2f} -> {v['pai']:.2f} "
                f"({100 * v['pai_gain']:+.1f}%), hit rate {v['hit_rate_gain_points']:+.1f} "
                f"points; better in {v['months_won']} of {len(self.months)} months, worse "
                f"in {v['months_lost']} (sign test p = {v['sign_test_p']:.3g})."
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Monthly:
    """Counts per cell for each month with data, up to and including ``through``.

    ``groups`` splits ``counts`` by category group (``(G, months, ny, nx)``, ``G = 0`` when
    no categories were given): the :data:`_MIX_GROUPS` commonest categories of the
    training months, then the rest pooled.
    """

    months: tuple[int, ...]
    counts: FloatArray  # (len(months), ny, nx)
    groups: FloatArray


def _monthly_counts(
    e: ArrayLike,
    n: ArrayLike,
    month_index: ArrayLike,
    grid: Grid,
    *,
    through: int,
    observed_months: Sequence[int] | None,
    category: ArrayLike | None = None,
) -> _Monthly:
    """Bin incidents of months ``<= through`` into per-month grids.

    This is the structural guard against leakage: rows after ``through`` are dropped
    here, before any method sees the data.
    """
    ea = np.array(e, dtype=np.float64, copy=True).ravel()
    na = np.array(n, dtype=np.float64, copy=True).ravel()
    mi = np.array(month_index, dtype=np.int64, copy=True).ravel()
    if not (ea.size == na.size == mi.size):
        raise ValueError("e, n and month_index must have the same length")
    cat = None if category is None else np.asarray(category).ravel()
    if cat is not None and cat.size != mi.size:
        raise ValueError("category must have one entry per incident")
    past = mi <= through
    ea, na, mi = ea[past], na[past], mi[past]
    if observed_months is None:
        months = np.unique(mi)
    else:
        months = np.unique(np.asarray(observed_months, dtype=np.int64))
        months = months[months <= through]
    cell = grid.cell_index(ea, na)
    pos = np.searchsorted(months, mi)
    ok = (cell >= 0) & (pos < months.size)
    ok[ok] &= months[pos[ok]] == mi[ok]
    flat = pos[ok] * grid.n_cells + cell[ok]
    size = months.size * grid.n_cells
    counts = np.bincount(flat, minlength=size).astype(np.float64)
    groups = np.zeros((0, months.size, *grid.shape))
    if cat is not None:
        labels, code = np.unique(cat[past][ok], return_inverse=True)
        if labels.size > 1:
            tally = np.bincount(code, minlength=labels.size)
            order = np.lexsort((np.arange(labels.size), -tally))  # commonest first
            rank = np.empty(labels.size, dtype=np.int64)
            rank[order] = np.arange(labels.size)
            group = np.minimum(rank[code], _MIX_GROUPS)
            n_groups = int(group.max()) + 1
            g = np.bincount(group * size + flat, minlength=n_groups * size).astype(np.float64)
            groups = g.reshape(n_groups, months.size, *grid.shape)
    return _Monthly(tuple(int(m) for m in months), counts.reshape(months.size, *grid.shape), groups)


def _mask_index(grid: Grid, mask: BoolArray | None) -> IntArray:
    if mask is None:
        return np.arange(grid.n_cells, dtype=np.int64)
    m = np.asarray(mask, dtype=bool)
    if m.shape != grid.shape:
        raise ValueError(f"mask shape {m.shape} does not match grid {grid.shape}")
    return np.flatnonzero(m.ravel()).astype(np.int64)


# --------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------


def _smooth(stack: FloatArray, radius_cells: float) -> FloatArray:
    """Quartic smoothing of each month's grid, kernel ``(1 - d^2/r^2)^2`` in cell units.

    Un-normalised (centre weight 1), so radius 0 (or < 1 cell) is the identity.
    """
    if radius_cells < 1.0:
        return stack
    k = int(math.floor(radius_cells))
    off = np.arange(-k, k + 1, dtype=np.float64)
    d2 = off[None, :] ** 2 + off[:, None] ** 2
    kern = np.clip(1.0 - d2 / radius_cells**2, 0.0, None) ** 2
    # Direct (not FFT) convolution: exact zeros stay zero, so empty cells still tie.
    out = convolve(stack, kern[None, :, :], mode="constant", cval=0.0)
    return np.asarray(out, dtype=np.float64)


def _prospective_kernel(size: float, bandwidth_m: float) -> FloatArray:
    """Bowers, Johnson & Pease (2004) spatial weights ``1 / (1 + d)`` on cell centres.

    ``d`` = whole half-cell widths between cell centres; zero beyond ``bandwidth_m``.
    """
    k = int(math.floor(bandwidth_m / size))
    off = np.arange(-k, k + 1, dtype=np.float64) * size
    dist = np.hypot(off[None, :], off[:, None])
    kern = 1.0 / (1.0 + np.floor(dist / (size / 2.0)))
    kern[dist > bandwidth_m] = 0.0
    return np.asarray(kern, dtype=np.float64)


def _score_last_month(mc: _Monthly, grid: Grid, params: Mapping[str, float]) -> FloatArray:
    return np.asarray(mc.counts[-1], dtype=np.float64)


def _score_long_run(mc: _Monthly, grid: Grid, params: Mapping[str, float]) -> FloatArray:
    return np.asarray(mc.counts.mean(axis=0), dtype=np.float64)


def _score_last_12(mc: _Monthly, through: int) -> FloatArray:
    """Mean count over the months with data among the 12 up to ``through``."""
    recent = np.asarray(mc.months) > through - 12
    if not recent.any():
        return np.zeros(mc.counts.shape[1:])
    return np.asarray(mc.counts[recent].mean(axis=0), dtype=np.float64)


def _score_prospective(
    mc: _Monthly, grid: Grid, params: Mapping[str, float], through: int
) -> FloatArray:
    bw = float(params.get("bandwidth_m", 400.0))
    window = int(params.get("window_months", 2))
    age = through - np.asarray(mc.months)  # 0 = the latest month
    use = age < window
    if not use.any():
        return np.zeros(grid.shape)
    combined = np.tensordot(1.0 / (1.0 + age[use]), mc.counts[use], axes=1)
    kern = _prospective_kernel(grid.size, bw)
    return np.asarray(convolve(combined, kern, mode="constant", cval=0.0), dtype=np.float64)


def _blend_weights(
    months: FloatArray, through: float, recency: float, half_life: float
) -> FloatArray:
    """Month weights: ``(1 - recency)`` x flat average + ``recency`` x exponential decay.

    Ages are counted from ``through`` in months, so a gap month simply has no weight
    (it is not in ``months``) and the weights of the other months still sum to 1.
    """
    if months.size == 0:
        return months
    decay = 0.5 ** ((through - months) / half_life)
    w = (1.0 - recency) / months.size + recency * decay / decay.sum()
    return np.asarray(w, dtype=np.float64)


def _blend_candidates() -> list[dict[str, float]]:
    """The 91 settings (h, smooth_share, recency, half_life) the inner backtest tries."""
    out: list[dict[str, float]] = []
    shapes = [(0.0, 0.0)] + [(h, s) for h in _BLEND_BANDWIDTHS for s in _BLEND_SMOOTH_SHARES]
    for h, share in shapes:
        for rec, hl in _BLEND_RECENCY:
            out.append(
                {"bandwidth_cells": h, "smooth_share": share, "recency": rec, "half_life": hl}
            )
    return out


def _choose_blend(
    mc: _Monthly, cells: IntArray, *, coverage: float, inner_months: int, min_train: int
) -> dict[str, float]:
    """Pick blend settings by a backtest on the training months only.

    Each of the last ``inner_months`` months that has at least ``min_train`` earlier
    months is forecast from the months before it, for every candidate; the candidate
    with the best mean hit rate at ``coverage`` wins, but only if it beats the default
    by ``_BLEND_MARGIN`` (a guard against chasing noise). Every month used is
    ``<= through``, so choosing cannot see the month being forecast.
    """
    months = np.asarray(mc.months, dtype=np.float64)
    folds = list(range(min_train, months.size))[-inner_months:]
    if not folds:
        return dict(_BLEND_DEFAULTS)
    cands = _blend_candidates()
    k = _n_top(coverage, cells.size)
    raw = mc.counts.reshape(months.size, -1)[:, cells]
    smooth = {
        h: _smooth(mc.counts, h).reshape(months.size, -1)[:, cells] for h in _BLEND_BANDWIDTHS
    }
    total = np.zeros(len(cands))
    for f in folds:
        w = np.stack([_blend_weights(months[:f], months[f] - 1, r, t) for r, t in _BLEND_RECENCY])
        truth = raw[f]
        base = w @ raw[:f]
        blocks = [_hit_rates(base, truth, k)]
        for h in _BLEND_BANDWIDTHS:
            sm = w @ smooth[h][:f]
            blocks += [_hit_rates((1 - s) * base + s * sm, truth, k) for s in _BLEND_SMOOTH_SHARES]
        total += np.concatenate(blocks)
    mean = total / len(folds)
    best = int(np.argmax(mean))
    default = cands.index(_BLEND_DEFAULTS)
    return cands[best] if mean[best] >= mean[default] + _BLEND_MARGIN else dict(cands[default])


def _score_blend(
    mc: _Monthly, params: Mapping[str, float], through: int, cells: IntArray
) -> tuple[FloatArray, dict[str, float]]:
    keys = ("bandwidth_cells", "smooth_share", "recency", "half_life")
    if set(keys) <= set(params):
        chosen = {k: float(params[k]) for k in keys}
    else:
        chosen = _choose_blend(
            mc,
            cells,
            coverage=float(params.get("coverage", 0.05)),
            inner_months=int(params.get("inner_months", 6)),
            min_train=int(params.get("min_train", 3)),
        )
    months = np.asarray(mc.months, dtype=np.float64)
    w = _blend_weights(months, float(through), chosen["recency"], chosen["half_life"])
    share = chosen["smooth_share"] if chosen["bandwidth_cells"] >= 1.0 else 0.0
    mixed = (1 - share) * mc.counts + share * _smooth(mc.counts, chosen["bandwidth_cells"])
    return np.asarray(np.tensordot(w, mixed, axes=1), dtype=np.float64), chosen


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def forecast(
    e: ArrayLike,
    n: ArrayLike,
    month_index: ArrayLike,
    grid: Grid,
    *,
    through: int,
    method: str = "blend",
    mask: BoolArray | None = None,
    observed_months: Sequence[int] | None = None,
    params: Mapping[str, float] | None = None,
    category: ArrayLike | None = None,
) -> GridForecast:
    """Rank grid cells for month ``through + 1`` from incidents up to ``through``.

    Parameters
    ----------
    e, n : array_like
        Incident easting/northing, EPSG:27700 metres. Not modified.
    month_index : array_like of int
        Month of each incident (consecutive integers). Rows with
        ``month_index > through`` are dropped first thing: they cannot influence the
        forecast.
    grid : Grid
    through : int
        Last month of data to use. The forecast is for ``through + 1``.
    method : {"last_month", "last_12_months", "long_run_average", "prospective", "blend", \
"ranker", "sepp"}
        ``last_month``: counts of the latest month with data. ``last_12_months``: mean
        count over the months with data among the 12 up to ``through`` (last year's
        map). ``long_run_average``: mean count over all months with data.
        ``ranker``: gradient-boosted trees trained on the area's own history
        (:func:`csp_analytics.forecast_models.ranker_scores`). ``sepp``: the grid
        self-exciting point process of Mohler et al. (2015), fitted by EM
        (:func:`csp_analytics.forecast_models.sepp_scores`). ``prospective``: Bowers,
        Johnson & Pease (2004) risk intensity ``sum 1/(1 + d) * 1/(1 + t)`` over incidents within
        ``bandwidth_m`` (default 400) and the last ``window_months`` (default 2), with
        ``d`` in whole half-cell widths between cell centres and ``t`` in whole months.
        ``blend`` (this project's method): a weighted average over months of
        ``(1 - smooth_share) * counts + smooth_share * quartic-smoothed counts``
        (radius ``bandwidth_cells``), with month weights ``(1 - recency)`` flat plus
        ``recency`` decaying with a ``half_life`` in months; the settings are chosen by
        an inner backtest on the training months only (see Notes).
    mask : numpy.ndarray of bool, optional
        ``(ny, nx)`` study-area mask (:meth:`Grid.mask`); only these cells are returned.
    observed_months : sequence of int, optional
        Months that have data. Default: the months present in ``month_index``. A month
        not listed is a gap: excluded from training, never treated as zero crime.
    params : mapping, optional
        Method settings: ``prospective`` takes ``bandwidth_m`` and ``window_months``;
        ``blend`` takes either all of ``bandwidth_cells``, ``smooth_share``,
        ``recency`` and ``half_life`` (no inner backtest), or ``coverage`` (default
        0.05), ``inner_months`` (6) and ``min_train`` (3) for its inner backtest;
        ``ranker`` takes the tree settings of
        :data:`csp_analytics.forecast_models.RANKER_DEFAULTS`.
    category : array_like, optional
        Category of each incident (any labels). The ranker uses the category mix of
        each cell's last 12 months as features; other methods ignore it.

    Returns
    -------
    GridForecast

    Notes
    -----
    The blend's inner backtest forecasts each of the last ``inner_months`` training
    months (those with at least ``min_train`` earlier months) from the months before
    it, for 91 candidate settings fixed in advance (raw counts only, or radius 1.5, 2.5
    or 4 cells with smooth_share 0.05, 0.2, 0.5 or 1; recency 0, 0.25 or 0.5 with
    half-lives 3, 6 or 12 months). It keeps the default (1.5 cells, 0.05, 0.5, 3 months)
    unless a candidate's mean hit rate at ``coverage`` is at least 0.5 points higher.
    The default, the candidates and the margin were chosen on three other Northumbria
    districts, not on Newcastle, where the method is tested. Smoothing is linear, so
    it is done once per radius and shared by all folds and candidates.

    With police.uk data the raw long-run count is a strong baseline: crimes are
    snapped to a fixed set of map points, so the same cells recur. The small smoothed
    share mostly orders cells that tie on counts by the crime around them.

    Examples
    --------
    >>> g = Grid(0.0, 0.0, 100.0, 3, 3)
    >>> e = [50, 50, 150, 250, 250, 250]
    >>> n = [50, 50, 50, 250, 250, 250]
    >>> m = [0, 1, 1, 2, 2, 3]                      # month 3 must be ignored
    >>> f = forecast(e, n, m, g, through=2, method="long_run_average")
    >>> f.as_grid().round(3).tolist()[0], f.target  # 2 incidents in 3 months, 1 in 3
    ([0.667, 0.333, 0.0], 3)
    >>> f.as_grid()[2, 2]
    np.float64(0.6666666666666666)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    p: Mapping[str, float] = dict(params or {})
    mc = _monthly_counts(
        e,
        n,
        month_index,
        grid,
        through=through,
        observed_months=observed_months,
        category=category if method == "ranker" else None,
    )
    if not mc.months:
        raise ValueError(f"no months with data up to {through}: nothing to forecast from")
    cells = _mask_index(grid, mask)
    used: dict[str, float] = dict(p)
    if method == "last_month":
        score = _score_last_month(mc, grid, p)
    elif method == "long_run_average":
        score = _score_long_run(mc, grid, p)
    elif method == "last_12_months":
        score = _score_last_12(mc, through)
    elif method in ("ranker", "sepp"):
        score, used = _score_model(method, mc, p, through, cells, grid)
    elif method == "prospective":
        used = {"bandwidth_m": 400.0, "window_months": 2.0, **p}
        score = _score_prospective(mc, grid, used, through)
    else:
        score, used = _score_blend(mc, p, through, cells)
    x, y = grid.sw_corners()
    return GridForecast(
        x_sw=readonly(x[cells]),
        y_sw=readonly(y[cells]),
        size_m=grid.size,
        score=readonly(np.asarray(score, dtype=np.float64).ravel()[cells]),
        cell_index=readonly(cells.copy()),
        grid=grid,
        method=method,
        through=int(through),
        target=int(through) + 1,
        training_months=mc.months,
        params=MappingProxyType(dict(used)),
    )


def _score_model(
    method: str,
    mc: _Monthly,
    params: Mapping[str, float],
    through: int,
    cells: IntArray,
    grid: Grid,
) -> tuple[FloatArray, dict[str, float]]:
    """The ranker or the self-exciting model on the calendar months up to ``through``."""
    months = list(mc.months)
    counts, groups = mc.counts, mc.groups
    if months[-1] != through:  # the origin is ``through`` even when it is a gap
        months.append(through)
        counts = np.concatenate([counts, np.zeros((1, *grid.shape))])
        groups = np.concatenate([groups, np.zeros((groups.shape[0], 1, *grid.shape))], axis=1)
    cal = calendar(months, counts, groups)
    if through not in mc.months:
        cal.have[-1] = False
    out = np.zeros(grid.n_cells)
    if method == "ranker":
        fit = ranker_scores(cal, cells, params)
        out[cells] = fit.scores
        used = {**params, "training_months": fit.n_train_months, "training_rows": fit.n_train_rows}
        return out, {k: float(v) for k, v in used.items()}
    sepp = sepp_scores(cal, cells)
    out[cells] = sepp.scores
    return out, {"theta": sepp.theta, "omega": sepp.omega, "em_iterations": sepp.iterations}


def _n_top(coverage: float, n_cells: int) -> int:
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    return max(1, min(n_cells, int(round(coverage * n_cells))))


def _hit_rates(scores: FloatArray, truth: FloatArray, k: int) -> FloatArray:
    """Tie-aware hit rate of each row of ``scores`` (rows = forecasts) for ``truth``.

    Cells tied with the k-th highest score share the remaining slots equally: the
    result is the expected hit rate over every order of the tied cells. It is
    deterministic and does not favour any part of the map.
    """
    s = np.atleast_2d(scores)
    total = float(truth.sum())
    if total <= 0:
        return np.full(s.shape[0], np.nan)
    kth = np.partition(s, s.shape[1] - k, axis=1)[:, s.shape[1] - k][:, None]
    tol = 1e-9 * np.maximum(np.abs(kth), 1e-300)
    above = s > kth + tol
    tied = ~above & (s >= kth - tol)
    n_above = above.sum(axis=1)
    n_tied = tied.sum(axis=1)
    hits = above @ truth + (k - n_above) / n_tied * (tied @ truth)
    return np.asarray(hits / total, dtype=np.float64)


def hit_rate(scores: ArrayLike, counts: ArrayLike, coverage: float) -> float:
    """Share of incidents in the top ``coverage`` share of cells (ties shared out).

    Parameters
    ----------
    scores, counts : array_like
        One value per study-area cell: forecast score and actual incident count.
    coverage : float
        Share of cells flagged; ``k = round(coverage * n_cells)`` (at least 1).

    Returns
    -------
    float
        Hit rate (Chainey, Tompson & Uhlig 2008); PAI is this divided by
        ``k / n_cells``. Where cells tie at the cut-off, each tied cell counts
        with weight (slots left) / (cells tied), i.e. the expected hit rate under
        a random tie break.

    Examples
    --------
    >>> hit_rate([3, 1, 1, 0], [5, 2, 0, 3], 0.5)      # cell 0, then half of cells 1 and 2
    0.6
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    c = np.asarray(counts, dtype=np.float64).ravel()
    return float(_hit_rates(s[None, :], c, _n_top(coverage, s.size))[0])


def _skip_reason(month: int, have: IntArray, truth: FloatArray) -> str:
    """Why a month cannot be scored, or "" if it can."""
    if month not in have:
        return "no data for this month (gap)"
    if not (have < month).any():
        return "no earlier month to train on"
    if truth.sum() == 0:
        return "no incidents inside the study area"
    return ""


def backtest(
    e: ArrayLike,
    n: ArrayLike,
    month_index: ArrayLike,
    grid: Grid,
    *,
    months: Sequence[int],
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = (0.01, 0.05, 0.10),
    mask: BoolArray | None = None,
    observed_months: Sequence[int] | None = None,
    params: Mapping[str, Mapping[str, float]] | None = None,
    category: ArrayLike | None = None,
) -> Backtest:
    """Forecast each month in ``months`` from the months before it and score it.

    Parameters
    ----------
    e, n, month_index, grid, mask, observed_months
        As for :func:`forecast`.
    months : sequence of int
        Months to score. Month ``m`` is forecast with ``through = m - 1`` and scored
        against the incidents of month ``m`` inside the mask. Months without data (gaps)
        or without any earlier data are skipped and listed in ``skipped``.
    methods : sequence of str
    coverages : sequence of float
        Shares of the study area's cells to flag.
    params : mapping of method -> mapping, optional
        Passed to :func:`forecast` per method.
    category : array_like, optional
        Passed to :func:`forecast` (the ranker's category-mix features).

    Returns
    -------
    Backtest

    Examples
    --------
    >>> g = Grid(0.0, 0.0, 100.0, 2, 2)
    >>> e, n = [50, 50, 150, 50, 50, 150], [50, 50, 150, 50, 150, 150]
    >>> m = [0, 0, 1, 2, 2, 2]
    >>> bt = backtest(e, n, m, g, months=[1, 2], methods=["last_month"], coverages=[0.25])
    >>> bt.hit_rate[0, :, 0].round(3).tolist(), bt.pai[0, :, 0].round(3).tolist()
    ([0.0, 0.333], [0.0, 1.333])
    """
    ea = np.array(e, dtype=np.float64, copy=True).ravel()
    na = np.array(n, dtype=np.float64, copy=True).ravel()
    mi = np.array(month_index, dtype=np.int64, copy=True).ravel()
    cells = _mask_index(grid, mask)
    have = np.unique(mi if observed_months is None else np.asarray(observed_months))
    cell_of = grid.cell_index(ea, na)
    covs = tuple(float(c) for c in coverages)
    ks = [_n_top(c, cells.size) for c in covs]
    scored: list[int] = []
    skipped: list[tuple[int, str]] = []
    rows: list[FloatArray] = []
    n_inc: list[int] = []
    for m in months:
        sel = (mi == m) & (cell_of >= 0)
        truth = np.bincount(cell_of[sel], minlength=grid.n_cells)[cells].astype(np.float64)
        reason = _skip_reason(int(m), have, truth)
        if reason:
            skipped.append((int(m), reason))
            continue
        per_method = []
        for meth in methods:
            f = forecast(
                ea,
                na,
                mi,
                grid,
                through=int(m) - 1,
                method=meth,
                mask=mask,
                observed_months=observed_months,
                params=(params or {}).get(meth),
                category=category,
            )
            per_method.append([_hit_rates(f.score[None, :], truth, k)[0] for k in ks])
        rows.append(np.asarray(per_method, dtype=np.float64))
        scored.append(int(m))
        n_inc.append(int(truth.sum()))
    hr = np.stack(rows, axis=1) if rows else np.zeros((len(methods), 0, len(covs)))
    share = np.asarray(ks, dtype=np.float64) / cells.size
    return Backtest(
        methods=tuple(methods),
        months=tuple(scored),
        skipped=tuple(skipped),
        coverages=covs,
        area_share=readonly(share),
        hit_rate=readonly(hr),
        pai=readonly(hr / share[None, None, :]),
        n_incidents=readonly(np.asarray(n_inc, dtype=np.int64)),
        n_cells=int(cells.size),
    )


def last_months(observed_months: Sequence[int], through: int, n: int = 12) -> list[int]:
    """The last ``n`` months with data up to and including ``through``: the test months of
    a rolling-origin backtest (each is forecast from the months before it).

    >>> last_months([1, 2, 3, 5, 6], through=6, n=3)
    [3, 5, 6]
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    have = sorted({int(m) for m in observed_months if int(m) <= through})
    return have[-n:]
