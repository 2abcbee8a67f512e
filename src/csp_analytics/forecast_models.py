"""The learned ranker and the self-exciting point process behind :mod:`csp_analytics.forecast`.

Private to the forecast module, which bins incidents and drops every month after the
forecast origin before calling anything here: these functions only ever receive counts of
months up to and including ``through``. Both work on a *calendar* cube of counts: one
``(ny, nx)`` grid per calendar month from the first month with data to ``through``, with a
flag for the months that have data (gaps are flagged, not read as zero crime).

References
----------
Mohler, G. O., Short, M. B., Brantingham, P. J., Schoenberg, F. P. & Tita, G. E. (2011).
Self-exciting point process modeling of crime. *Journal of the American Statistical
Association* 106(493), 100-108.

Mohler, G. O., Short, M. B., Malinowski, S., Johnson, M., Tita, G. E., Bertozzi, A. L. &
Brantingham, P. J. (2015). Randomized controlled field trials of predictive policing.
*Journal of the American Statistical Association* 110(512), 1399-1411.

Ke, G. et al. (2017). LightGBM: a highly efficient gradient boosting decision tree.
*Advances in Neural Information Processing Systems* 30 (the histogram algorithm that
scikit-learn's ``HistGradientBoostingRegressor`` implements).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from csp_analytics._arrays import BoolArray, FloatArray, IntArray

#: The ranker's fixed settings: common small-data choices set before any backtest, then
#: ``max_iter``/``learning_rate`` halved/doubled and training limited to the latest 12
#: months for speed (docs/analytics/forecasting-and-backtest.md says what was seen when).
RANKER_DEFAULTS: dict[str, float] = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "min_train_months": 2,
    "max_train_months": 12,
}
#: Feature names, in column order (the category-mix columns follow, one per group).
RANKER_FEATURES: tuple[str, ...] = (
    "count_last_month",
    "mean_3_months",
    "mean_6_months",
    "mean_12_months",
    "same_month_last_year",
    "ring1_last_month",
    "ring1_mean_3_months",
    "ring1_mean_12_months",
    "ring2_last_month",
    "ring2_mean_3_months",
    "ring2_mean_12_months",
    "trend_3_vs_12",
    "share_of_area_12_months",
)


@dataclass(frozen=True)
class Calendar:
    """Counts per calendar month (gaps included, as zeros with ``have`` False).

    ``counts`` is ``(M, ny, nx)`` for the months ``first .. first + M - 1``; ``groups`` is
    ``(G, M, ny, nx)``: the same counts split by category group (may be ``G = 0``).
    """

    first: int
    counts: FloatArray
    have: BoolArray
    groups: FloatArray

    @property
    def n_months(self) -> int:
        return int(self.counts.shape[0])


def calendar(
    months: Sequence[int], counts: FloatArray, groups: FloatArray | None = None
) -> Calendar:
    """Spread per-month-with-data grids over consecutive calendar months.

    >>> c = calendar([3, 5], np.ones((2, 1, 1)))
    >>> c.first, c.have.tolist(), c.counts[:, 0, 0].tolist()
    (3, [True, False, True], [1.0, 0.0, 1.0])
    """
    m = np.asarray(months, dtype=np.int64)
    first = int(m[0])
    size = int(m[-1]) - first + 1
    out = np.zeros((size, *counts.shape[1:]), dtype=np.float64)
    out[m - first] = counts
    have = np.zeros(size, dtype=bool)
    have[m - first] = True
    g = np.zeros((0, size, *counts.shape[1:]))
    if groups is not None and groups.shape[0]:
        g = np.zeros((groups.shape[0], size, *counts.shape[1:]), dtype=np.float64)
        g[:, m - first] = groups
    return Calendar(first, out, have, g)


# --------------------------------------------------------------------------------------
# Learned ranker
# --------------------------------------------------------------------------------------


def _rings(counts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Counts in the 8 neighbours (ring 1) and the 16 cells around them (ring 2)."""

    def box(r: int) -> FloatArray:
        width = 2 * r + 1
        out = uniform_filter(counts, size=(1, width, width), mode="constant", cval=0.0)
        return np.asarray(out * width * width, dtype=np.float64)

    b0, b1, b2 = counts, box(1), box(2)
    # uniform_filter sums in floating point: round away its last-bit noise so cells with
    # no neighbours at all are exactly 0.
    r1 = np.round(b1 - b0, 9)
    r2 = np.round(b2 - b1, 9)
    return np.asarray(r1, dtype=np.float64), np.asarray(r2, dtype=np.float64)


class _Windows:
    """Means over trailing windows of calendar months, months with data only."""

    def __init__(self, cube: FloatArray, have: BoolArray) -> None:
        flat = cube.reshape(cube.shape[0], -1)
        self.cum = np.vstack([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])
        self.n = np.concatenate([[0], np.cumsum(have)])
        self.flat = flat
        self.have = have

    def mean(self, s: int, width: int) -> FloatArray:
        lo = max(0, s - width + 1)
        k = int(self.n[s + 1] - self.n[lo])
        if k == 0:
            return np.zeros(self.flat.shape[1])
        return np.asarray((self.cum[s + 1] - self.cum[lo]) / k, dtype=np.float64)

    def last(self, s: int) -> FloatArray:
        idx = np.flatnonzero(self.have[: s + 1])
        return self.flat[idx[-1]] if idx.size else np.zeros(self.flat.shape[1])

    def at(self, s: int) -> FloatArray:
        if 0 <= s < self.have.size and self.have[s]:
            return np.asarray(self.flat[s], dtype=np.float64)
        return np.full(self.flat.shape[1], np.nan)


def ranker_features(cal: Calendar, s: int, cells: IntArray) -> FloatArray:
    """Feature matrix ``(cells, features)`` at origin ``s`` (a calendar index).

    Uses months ``<= s`` only; the forecast is for ``s + 1``. Columns are
    :data:`RANKER_FEATURES`, then one category-mix share per group.
    """
    r1, r2 = _rings(cal.counts)
    w1, w2 = _Windows(r1, cal.have), _Windows(r2, cal.have)
    groups = [_Windows(g, cal.have) for g in cal.groups]
    return _features(_Windows(cal.counts, cal.have), w1, w2, s, cells, groups)


def _features(
    w: _Windows,
    w1: _Windows,
    w2: _Windows,
    s: int,
    cells: IntArray,
    groups: Sequence[_Windows] = (),
) -> FloatArray:
    m3, m12 = w.mean(s, 3)[cells], w.mean(s, 12)[cells]
    total = float(m12.sum())
    cols = [
        w.last(s)[cells],
        m3,
        w.mean(s, 6)[cells],
        m12,
        w.at(s + 1 - 12)[cells],
        w1.last(s)[cells],
        w1.mean(s, 3)[cells],
        w1.mean(s, 12)[cells],
        w2.last(s)[cells],
        w2.mean(s, 3)[cells],
        w2.mean(s, 12)[cells],
        m3 - m12,
        m12 / total if total > 0 else np.zeros_like(m12),
    ]
    with np.errstate(invalid="ignore", divide="ignore"):
        for g in groups:
            cols.append(np.where(m12 > 0, g.mean(s, 12)[cells] / m12, np.nan))
    return np.column_stack(cols).astype(np.float64)


@dataclass(frozen=True)
class RankerFit:
    scores: FloatArray
    n_train_months: int
    n_train_rows: int


def ranker_scores(
    cal: Calendar, cells: IntArray, params: Mapping[str, float] | None = None
) -> RankerFit:
    """Learned ranker: gradient-boosted trees (Poisson loss) on lagged multi-scale counts.

    One model per forecast, trained on the area's own history: every month ``u`` with data
    that has at least one month with data before it is a training target, with features
    taken at origin ``u - 1`` (so they use months ``< u`` only). The last calendar month
    of ``cal`` is the forecast origin. Returns the predicted count of each of ``cells`` for
    the month after. With fewer than ``min_train_months`` targets the ranker has nothing to
    learn from and returns the mean count over the last 12 months instead
    (``n_train_months`` says so).
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    p = {**RANKER_DEFAULTS, **(params or {})}
    w = _Windows(cal.counts, cal.have)
    r1, r2 = _rings(cal.counts)
    w1, w2 = _Windows(r1, cal.have), _Windows(r2, cal.have)
    groups = [_Windows(g, cal.have) for g in cal.groups]
    origin = cal.n_months - 1
    first_data = int(np.flatnonzero(cal.have)[0])
    targets = [u for u in range(first_data + 1, origin + 1) if cal.have[u]]
    targets = targets[-int(p["max_train_months"]) :]  # the most recent months teach most
    if len(targets) < int(p["min_train_months"]):
        return RankerFit(w.mean(origin, 12)[cells], len(targets), 0)
    xs, ys = [], []
    for u in targets:
        x = _features(w, w1, w2, u - 1, cells, groups)
        y = w.flat[u][cells]
        # Cells with nothing in or around them in the last year and nothing in the target
        # month teach the model nothing about the ranking at the top: left out of training
        # (they are still scored).
        keep = (x[:, 3] + x[:, 7] + x[:, 10] > 0) | (y > 0)
        xs.append(x[keep])
        ys.append(y[keep])
    x_train, y_train = np.vstack(xs), np.concatenate(ys)
    # A column with no value at all in training (e.g. "same month last year" with under
    # a year of history) cannot be split on: left out, in training and prediction alike.
    use = ~np.all(np.isnan(x_train), axis=0)
    x_train = x_train[:, use]
    model = HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=int(p["max_iter"]),
        learning_rate=float(p["learning_rate"]),
        max_leaf_nodes=int(p["max_leaf_nodes"]),
        min_samples_leaf=int(p["min_samples_leaf"]),
        l2_regularization=float(p["l2_regularization"]),
        early_stopping=False,
        random_state=0,
    )
    # One thread: on a shared machine OpenMP threads that wait for a busy core make a fit
    # ten times slower, and the trees here are small.
    with threadpool_limits(limits=1):
        model.fit(x_train, y_train)
        pred = model.predict(_features(w, w1, w2, origin, cells, groups)[:, use])
    return RankerFit(np.asarray(pred, dtype=np.float64), len(targets), int(y_train.size))


# --------------------------------------------------------------------------------------
# Self-exciting point process (Mohler et al. 2015, grid form)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeppFit:
    """``lambda_c(t) = mu_c + theta * sum_{s<t} g(t - s) * count_c(s)``,
    ``g(k) = (1 - q) q^(k - 1)`` for ``k >= 1`` months, ``q = exp(-omega)``."""

    scores: FloatArray
    mu: FloatArray
    theta: float
    omega: float
    iterations: int


def _kernel(q: float, size: int) -> FloatArray:
    """``G[t, s] = g(t - s)`` for ``s < t`` (months), 0 elsewhere."""
    lag = np.arange(size)[:, None] - np.arange(size)[None, :]
    g = np.where(lag >= 1, (1.0 - q) * q ** np.clip(lag - 1, 0, None), 0.0)
    return np.asarray(g, dtype=np.float64)


def sepp_scores(
    cal: Calendar,
    cells: IntArray,
    *,
    max_iter: int = 200,
    tol: float = 1e-5,
) -> SeppFit:
    """Fit the grid self-exciting model by expectation-maximisation and forecast (see
    :func:`_sepp`); BLAS on one thread (small products; waiting threads are slower on a
    shared machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _sepp(cal, cells, max_iter=max_iter, tol=tol)


def _m_step_kernel(
    pair: FloatArray, lag: IntArray, parents: FloatArray, have: BoolArray, n_trig: float
) -> tuple[float, float]:
    """The M-step for ``(theta, q)`` given the expected triggered counts ``pair[t, s]``.

    Maximises ``sum_k n_k log g(k; q) + n log theta - theta E(q)`` where ``n_k`` are the
    triggered incidents at lag ``k``, ``E(q) = sum_s X_s sum_{t > s observed} g(t - s; q)``
    (the offspring that could have been seen: months after the last one, and gaps, are
    not). ``theta = n / E(q)`` in closed form; ``q`` by a bounded scalar search on the
    profile. Ignoring the truncation (``q = 1 - 1 / mean lag``) biased ``q`` and ``theta``
    down on simulated data.
    """
    from scipy.optimize import minimize_scalar

    if n_trig <= 0:
        return 0.0, 0.0
    size = have.size
    n_k = np.bincount(lag[lag >= 1], weights=pair[lag >= 1], minlength=size)[1:]
    k = np.arange(1, size)
    obs_after = have[None, :] & (lag.T >= 1)  # [s, t]: month t observed and after s
    gap = lag.T * obs_after  # t - s where counted

    def exposure(q: float) -> float:
        g = np.where(obs_after, (1.0 - q) * q ** np.clip(gap - 1, 0, None), 0.0)
        return float(parents @ g.sum(axis=1))

    def negative(q: float) -> float:
        ll = float(n_k @ (math.log(1.0 - q) + (k - 1) * math.log(q)))
        return -(ll - n_trig * math.log(max(exposure(q), 1e-300)))

    q = float(minimize_scalar(negative, bounds=(1e-6, 0.95), method="bounded").x)
    e = exposure(q)
    return (n_trig / e if e > 0 else 0.0), q


def _sepp(cal: Calendar, cells: IntArray, *, max_iter: int, tol: float) -> SeppFit:
    """Fit the grid self-exciting model by expectation-maximisation and forecast.

    The model is the one Mohler et al. (2015) fielded in Los Angeles and Kent: each cell has
    its own background rate ``mu_c``; every incident raises its cell's rate in later months
    by ``theta * g(lag)``, with one exponential decay in time shared by all cells (discrete
    here: whole months). EM as in Mohler et al.: the E-step shares each month's count
    between background and each earlier month in proportion to their rates; the M-step sets
    ``mu_c`` = background share per month with data, ``theta`` = triggered incidents per
    incident (counting only the months in which offspring could have been seen), and
    ``q = 1 - 1 / mean lag`` (the geometric maximum-likelihood estimate). Gap months are
    neither scored in the likelihood nor used as parents (their incidents are unknown).
    The forecast is ``lambda_c`` for the month after the last one.
    """
    flat = cal.counts.reshape(cal.n_months, -1)[:, cells]
    have = cal.have
    size = cal.n_months
    obs = np.flatnonzero(have)
    x = flat  # gaps are zeros: no parents
    n_obs = obs.size
    theta, q = 0.5, 0.5
    # Start with half of each cell's mean as background (theta = 0.5 explains the rest):
    # starting from the whole mean leaves EM at a poorer fixed point with little
    # self-excitation (seen on simulated data, where a direct optimiser found the truth).
    mu = (1.0 - theta) * x[obs].mean(axis=0)
    it = 0
    lag = np.arange(size)[:, None] - np.arange(size)[None, :]
    while it < max_iter:
        it += 1
        g = _kernel(q, size)
        trig = theta * (g @ x)  # (M, cells): triggered rate in each month
        lam = mu[None, :] + trig
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(lam > 0, x / lam, 0.0)
        ratio[~have] = 0.0
        bg = (mu[None, :] * ratio)[obs].sum(axis=0)
        # triggered weight by lag: sum_t ratio_t * theta g(t-s) x_s, and sum of lag * it
        pair = theta * g * (ratio @ x.T)  # (t, s): sum over cells of ratio_t,c x_s,c ...
        n_trig = float(pair.sum())
        new_mu = bg / n_obs
        new_theta, new_q = _m_step_kernel(pair, lag, x.sum(axis=1), have, n_trig)
        change = max(
            float(np.max(np.abs(new_mu - mu))) / max(1.0, float(mu.max())) if mu.size else 0.0,
            abs(new_theta - theta),
            abs(new_q - q),
        )
        mu, theta, q = new_mu, min(new_theta, 0.999), new_q
        if change < tol:
            break
    g_next = (1.0 - q) * q ** np.arange(size - 1, -1, -1.0)  # lag size-s for s = 0..size-1
    scores = mu + theta * (g_next @ x)
    omega = -math.log(q) if q > 0 else math.inf
    return SeppFit(np.asarray(scores, dtype=np.float64), mu, float(theta), omega, it)
