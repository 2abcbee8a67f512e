"""Emerging issues: months whose count is above what the series' own history predicts.

For a chosen month (by default the latest) every monthly series (e.g. one per area and
category) is compared with its expected level::

    expected = level x seasonal factor

* **level**: the *median* of the series' last ``window`` observed months (within the
  previous ``lookback`` calendar months). A median, so one anomalous month (Northumbria's
  July 2020 anti-social behaviour, 1,368 against about 6,000 either side) is not learnt.
* **seasonal factor**: how the same calendar month compared with the ``window`` months
  before it in earlier years, ``x[t-12y] / median(window before t-12y)``. It comes from the
  series itself when an earlier year has a baseline of at least ``min_seasonal_base`` a
  month, otherwise from its pooled group (e.g. all areas for that category), otherwise it
  is 1. With three or more years the median of the yearly ratios is used. With fewer, a
  seasonal *peak* is believed but a *dip* is not (the factor is at least 1): a single low
  month is more often a recording break than a season, and believing it would lower the
  expected level and raise false alarms, while believing a peak can only suppress alarms.
* the upper-tail probability of the observed count under a negative binomial with that
  mean and the variance seen in the baseline (exact Poisson when the series is no more
  variable than Poisson, or with ``overdispersion=False``), inflated for the uncertainty of
  the estimated level; Benjamini-Hochberg across all series tested; an issue needs
  ``q < alpha`` and at least ``min_count`` incidents.

Missing months are NaN (or absent labels) and are gaps, never zeros: they are skipped
when forming baselines, and a series with no data in the chosen month is not tested.
See ``docs/analytics/emerging-issues.md``.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from csp_analytics._arrays import FloatArray
from csp_analytics.compare import benjamini_hochberg

__all__ = ["EmergingIssue", "EmergingScan", "SeriesCheck", "emerging_issues"]


# Median absolute deviation to standard deviation, for normal data.
_MAD_TO_SD = 1.4826
# Expected counts are never taken below this (an area that "never" has incidents is
# expected to have about one every two months), so a p-value is never computed against 0.
_MIN_EXPECTED = 0.5
_YEARS_FOR_MEDIAN = 3


@dataclass(frozen=True)
class SeriesCheck:
    """How one series was assessed in the chosen month (tested or not).

    Attributes
    ----------
    series_key, group : str, str or None
        The series and its pooled group.
    month : str
        The month assessed, ``YYYY-MM``.
    observed : int or None
        Count in the month; ``None`` when the month is missing for this series.
    expected, ratio, p_value, q_value : float or None
        Expected count, observed / expected, upper-tail p-value and Benjamini-Hochberg
        q-value; ``None`` when the series was not tested.
    flagged : bool
        Whether this series is an emerging issue.
    level : float or None
        Median of the baseline months.
    baseline_months : tuple of str
        The months whose median formed the level.
    seasonal_factor : float
        Multiplier applied to the level (1 when not adjusted).
    seasonal_source : str
        ``"own"``, ``"group"`` or ``"none"``.
    seasonal_months : tuple of str
        The earlier same-calendar months that the seasonal factor was estimated from.
    dispersion : float
        Variance / mean used for the p-value (1 means Poisson).
    evidence : str
        Plain-English explanation, including why a series was not tested.
    """

    series_key: str
    group: str | None
    month: str
    observed: int | None
    expected: float | None
    ratio: float | None
    p_value: float | None
    q_value: float | None
    flagged: bool
    level: float | None
    baseline_months: tuple[str, ...]
    seasonal_factor: float
    seasonal_source: str
    seasonal_months: tuple[str, ...]
    dispersion: float
    evidence: str


@dataclass(frozen=True)
class EmergingIssue:
    """A series whose count in ``month`` is significantly above its expected level."""

    series_key: str
    month: str
    observed: int
    expected: float
    ratio: float
    p_value: float
    q_value: float
    evidence: str


@dataclass(frozen=True)
class EmergingScan:
    """Result of :func:`emerging_issues`: every series' check and the issues found.

    ``issues`` is sorted by p-value (strongest first); ``checks`` keeps input order.
    ``n_tested`` is the size of the Benjamini-Hochberg family.
    """

    month: str
    checks: tuple[SeriesCheck, ...]
    issues: tuple[EmergingIssue, ...]
    n_tested: int
    alpha: float
    min_count: int

    def check(self, series_key: str) -> SeriesCheck:
        """The check for one series."""
        for c in self.checks:
            if c.series_key == series_key:
                return c
        raise KeyError(series_key)


@dataclass(frozen=True)
class _Settings:
    window: int
    lookback: int
    min_baseline: int
    years: int
    min_seasonal_base: float


@dataclass(frozen=True)
class _Seasonal:
    factor: float
    source: str
    months: tuple[int, ...]
    ratios: tuple[float, ...]


# --------------------------------------------------------------------------------------
# Month handling
# --------------------------------------------------------------------------------------


def _label(index: int) -> str:
    return str(np.datetime64(index, "M"))


def _words(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{calendar.month_abbr[month + 1]} {1970 + year}"


def _runs(indices: Sequence[int]) -> str:
    """Months as runs: ``[5, 6, 7, 9]`` (1970) is "Jun-Aug 1970, Oct 1970"."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = []
    for run in runs:
        a, b = run[0], run[-1]
        if a == b:
            parts.append(_words(a))
        elif a // 12 == b // 12:
            parts.append(f"{calendar.month_abbr[a % 12 + 1]}-{_words(b)}")
        else:
            parts.append(f"{_words(a)}-{_words(b)}")
    return ", ".join(parts)


def _dense(counts: npt.ArrayLike, months: npt.ArrayLike) -> tuple[FloatArray, int]:
    """Counts on a gap-free month axis (absent labels become NaN columns), and month 0."""
    x = np.array(counts, dtype=float)
    m = np.asarray(months, dtype="datetime64[M]")
    if x.ndim != 2 or m.ndim != 1 or x.shape[1] != m.size or m.size == 0:
        raise ValueError("counts must be 2-D (series x months) with one label per column")
    idx = m.astype(np.int64)
    if np.any(np.diff(idx) <= 0):
        raise ValueError("month labels must be strictly increasing")
    seen = x[~np.isnan(x)]
    if np.any(seen < 0) or np.any(seen != np.round(seen)) or np.any(np.isinf(seen)):
        raise ValueError("counts must be non-negative whole numbers or NaN")
    first = int(idx[0])
    dense = np.full((x.shape[0], int(idx[-1]) - first + 1), np.nan)
    dense[:, idx - first] = x
    return dense, first


# --------------------------------------------------------------------------------------
# Level, seasonality and dispersion for one series
# --------------------------------------------------------------------------------------


def _baseline(x: FloatArray, t: int, s: _Settings) -> list[int]:
    """The last ``s.window`` observed months before ``t`` within ``s.lookback`` months."""
    picked: list[int] = []
    for j in range(t - 1, max(t - s.lookback, 0) - 1, -1):
        if not np.isnan(x[j]):
            picked.append(j)
            if len(picked) == s.window:
                break
    return picked[::-1]


def _yearly_ratios(x: FloatArray, t: int, s: _Settings) -> list[tuple[int, float]]:
    """(month, ratio) for earlier same-calendar months with a usable baseline."""
    out: list[tuple[int, float]] = []
    for y in range(1, s.years + 1):
        r = t - 12 * y
        if r < 0:
            break
        if np.isnan(x[r]):
            continue
        base = _baseline(x, r, s)
        if len(base) < s.min_baseline:
            continue
        level = float(np.median(x[base]))
        if level >= s.min_seasonal_base:
            out.append((r, float(x[r]) / level))
    return out[::-1]  # oldest first


def _seasonal(own: list[tuple[int, float]], group: list[tuple[int, float]]) -> _Seasonal:
    source, pairs = ("own", own) if own else (("group", group) if group else ("none", []))
    if not pairs:
        return _Seasonal(1.0, "none", (), ())
    ratios = tuple(r for _, r in pairs)
    # Three or more years: the median is robust to one odd year. Fewer: only a peak counts.
    robust = len(ratios) >= _YEARS_FOR_MEDIAN
    factor = float(np.median(ratios)) if robust else max(1.0, max(ratios))
    return _Seasonal(factor, source, tuple(m for m, _ in pairs), ratios)


def _dispersion(values: FloatArray, level: float) -> float:
    """Robust variance-to-mean ratio of the baseline months (at least 1)."""
    mad = float(np.median(np.abs(values - np.median(values))))
    return max(1.0, (_MAD_TO_SD * mad) ** 2 / max(level, _MIN_EXPECTED))


def _upper_tail(observed: int, expected: float, dispersion: float) -> float:
    """P(X >= observed) for X with mean ``expected`` and variance ``dispersion * mean``."""
    if observed <= 0:
        return 1.0
    if dispersion <= 1.0 + 1e-9:
        return float(stats.poisson.sf(observed - 1, expected))
    prob = 1.0 / dispersion
    size = expected / (dispersion - 1.0)
    return float(stats.nbinom.sf(observed - 1, size, prob))


# --------------------------------------------------------------------------------------
# Public function
# --------------------------------------------------------------------------------------


def emerging_issues(
    counts: npt.ArrayLike,
    months: npt.ArrayLike,
    series_keys: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    month: str | np.datetime64 | None = None,
    window: int = 6,
    lookback: int = 12,
    min_baseline: int = 3,
    years: int = 3,
    min_seasonal_base: float = 10.0,
    min_count: int = 5,
    alpha: float = 0.05,
    overdispersion: bool = True,
) -> EmergingScan:
    """Flag series whose count in one month is above its expected level.

    Parameters
    ----------
    counts : array_like, shape (n_series, n_months)
        Monthly counts; NaN for a missing month (a gap, never a zero). Not modified.
    months : array_like of datetime64[M] or "YYYY-MM" strings, shape (n_months,)
        Strictly increasing month labels. Months absent from the labels are gaps too.
    series_keys : sequence of str
        One unique key per row, e.g. "Newcastle upon Tyne | Burglary".
    groups : sequence of str, optional
        One group per row (e.g. the category) whose pooled series supplies the seasonal
        factor when a series' own history is too short or too small. A pooled month is
        missing if any member is missing.
    month : str or datetime64, optional
        The month to assess; default the last label. Must lie within the labels' range.
    window : int, default 6
        Number of earlier observed months whose median is the level.
    lookback : int, default 12
        Only months within this many calendar months before the target are used.
    min_baseline : int, default 3
        Fewest observed baseline months for a series to be tested.
    years : int, default 3
        Earlier years searched for the same calendar month.
    min_seasonal_base : float, default 10
        Smallest baseline level (per month) for a year's seasonal ratio to be used.
    min_count : int, default 5
        Fewest incidents in the month for an issue to be raised.
    alpha : float, default 0.05
        False discovery rate across the series tested.
    overdispersion : bool, default True
        Allow for month-to-month variation beyond Poisson (negative binomial). With
        ``False`` the p-value is the exact Poisson upper tail with the expected count
        treated as known.

    Returns
    -------
    EmergingScan
        A check for every series and the emerging issues, strongest first.

    References
    ----------
    Farrington, C. P., Andrews, N. J., Beale, A. D. and Catchpole, M. A. (1996). A
    statistical algorithm for the early detection of outbreaks of infectious disease.
    *JRSS A* 159, 547-563 (baselines from the same time of year in earlier years).

    Noufaily, A. et al. (2013). An improved algorithm for outbreak detection in multiple
    surveillance systems. *Statistics in Medicine* 32, 1206-1222 (negative binomial
    threshold; down-weighting past outbreaks).

    Benjamini, Y. and Hochberg, Y. (1995). *JRSS B* 57, 289-300.

    Examples
    --------
    >>> months = np.arange("2021-01", "2021-09", dtype="datetime64[M]")
    >>> counts = [[10, 12, 9, 11, 10, 12, 11, 30],
    ...           [10, 12, 9, 11, 10, 12, 11, 12]]
    >>> scan = emerging_issues(counts, months, ["Ward A", "Ward B"])
    >>> [(i.series_key, i.observed, i.expected) for i in scan.issues]
    [('Ward A', 30, 11.0)]
    >>> scan.check("Ward B").flagged
    False
    """
    settings = _Settings(window, lookback, min_baseline, years, min_seasonal_base)
    if min_baseline < 1 or window < min_baseline or lookback < window:
        raise ValueError("need 1 <= min_baseline <= window <= lookback")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    dense, first = _dense(counts, months)
    keys = tuple(series_keys)
    if len(keys) != dense.shape[0] or len(set(keys)) != len(keys):
        raise ValueError("series_keys must be unique, one per row of counts")
    members = tuple(groups) if groups is not None else (None,) * len(keys)
    if len(members) != len(keys):
        raise ValueError("groups must have one entry per series")
    t = _target(month, first, dense.shape[1])
    group_ratios = _group_ratios(dense, members, t, settings)
    drafts = [
        _assess(dense[i], t, settings, overdispersion, group_ratios.get(members[i], []))
        for i in range(len(keys))
    ]
    p = np.array([np.nan if d.p_value is None else d.p_value for d in drafts])
    q = benjamini_hochberg(p)
    n_tested = int(np.sum(~np.isnan(p)))
    ctx = _Context(first, n_tested, alpha, min_count, min_baseline)
    checks = tuple(_finish(d, keys[i], members[i], float(q[i]), ctx) for i, d in enumerate(drafts))
    issues = tuple(
        EmergingIssue(
            c.series_key,
            c.month,
            int(c.observed or 0),
            float(c.expected or 0.0),
            float(c.ratio or 0.0),
            float(c.p_value or 0.0),
            float(c.q_value or 0.0),
            c.evidence,
        )
        for c in sorted((c for c in checks if c.flagged), key=lambda c: c.p_value or 0.0)
    )
    return EmergingScan(_label(first + t), checks, issues, n_tested, alpha, min_count)


def _target(month: str | np.datetime64 | None, first: int, n: int) -> int:
    if month is None:
        return n - 1
    t = int(np.asarray(month, dtype="datetime64[M]").astype(np.int64)) - first
    if not 0 <= t < n:
        raise ValueError(f"month {month} is outside the months given")
    return t


def _group_ratios(
    dense: FloatArray, members: tuple[str | None, ...], t: int, s: _Settings
) -> dict[str | None, list[tuple[int, float]]]:
    """Seasonal ratios of each group's pooled series (a month is NaN if any member is)."""
    out: dict[str | None, list[tuple[int, float]]] = {}
    for g in dict.fromkeys(members):
        if g is None:
            continue
        rows = [i for i, m in enumerate(members) if m == g]
        pooled = dense[rows].sum(axis=0)  # NaN wherever any member is NaN
        out[g] = _yearly_ratios(pooled, t, s)
    return out


@dataclass(frozen=True)
class _Draft:
    t: int
    observed: int | None
    expected: float | None
    p_value: float | None
    level: float | None
    baseline: tuple[int, ...]
    gaps: tuple[int, ...]
    seasonal: _Seasonal
    dispersion: float
    reason: str | None


_NO_SEASON = _Seasonal(1.0, "none", (), ())


def _assess(
    x: FloatArray,
    t: int,
    s: _Settings,
    overdispersion: bool,
    group: list[tuple[int, float]],
) -> _Draft:
    base = tuple(_baseline(x, t, s))
    # Missing months between the start of the baseline (or of the lookback) and ``t``.
    start = base[0] if len(base) == s.window else max(t - s.lookback, 0)
    gaps = tuple(j for j in range(start, t) if np.isnan(x[j]))
    if np.isnan(x[t]):
        return _Draft(t, None, None, None, None, (), gaps, _NO_SEASON, 1.0, "gap")
    observed = int(x[t])
    if len(base) < s.min_baseline:
        return _Draft(t, observed, None, None, None, base, gaps, _NO_SEASON, 1.0, "short")
    level = float(np.median(x[list(base)]))
    seasonal = _seasonal(_yearly_ratios(x, t, s), group)
    expected = max(level * seasonal.factor, _MIN_EXPECTED)
    dispersion = 1.0
    if overdispersion:
        # Month-to-month spread of the baseline, inflated for the error of its median
        # (variance of a median of n values is about pi / 2 times that of their mean).
        spread = _dispersion(x[list(base)], level)
        dispersion = spread * (1.0 + math.pi * seasonal.factor / (2.0 * len(base)))
    p_value = _upper_tail(observed, expected, dispersion)
    return _Draft(t, observed, expected, p_value, level, base, gaps, seasonal, dispersion, None)


@dataclass(frozen=True)
class _Context:
    first: int
    n_tested: int
    alpha: float
    min_count: int
    min_baseline: int


def _finish(d: _Draft, key: str, group: str | None, q: float, ctx: _Context) -> SeriesCheck:
    observed = d.observed
    expected = d.expected
    tested = d.p_value is not None and observed is not None and expected is not None
    flagged = bool(
        tested
        and q < ctx.alpha
        and (observed or 0) >= ctx.min_count
        and (observed or 0) > (expected or 0.0)
    )
    ratio = None if observed is None or expected is None else observed / expected
    return SeriesCheck(
        series_key=key,
        group=group,
        month=_label(ctx.first + d.t),
        observed=observed,
        expected=expected,
        ratio=ratio,
        p_value=d.p_value,
        q_value=q if tested else None,
        flagged=flagged,
        level=d.level,
        baseline_months=tuple(_label(ctx.first + j) for j in d.baseline),
        seasonal_factor=d.seasonal.factor,
        seasonal_source=d.seasonal.source,
        seasonal_months=tuple(_label(ctx.first + j) for j in d.seasonal.months),
        dispersion=d.dispersion,
        evidence=_evidence(d, key, group, q, ctx, flagged),
    )


def _evidence(
    d: _Draft, key: str, group: str | None, q: float, ctx: _Context, flagged: bool
) -> str:
    when = _words(ctx.first + d.t)
    gaps = f" ({_runs([ctx.first + j for j in d.gaps])} missing, skipped)" if d.gaps else ""
    if d.reason == "gap":
        return f"{key}: no data for {when}; a missing month is a gap, not a zero, so not tested."
    if d.expected is None or d.level is None or d.observed is None or d.p_value is None:
        return (
            f"{key}: not tested; only {len(d.baseline)} observed month(s) in the year before "
            f"{when}{gaps}, at least {ctx.min_baseline} needed."
        )
    base = _runs([ctx.first + j for j in d.baseline])
    verdict = "an emerging issue" if flagged else "not an emerging issue"
    return (
        f"{key}: {d.observed:,} in {when} against an expected {d.expected:,.1f} "
        f"({d.observed / d.expected:.2f} times). Expected = median of {base}{gaps} "
        f"= {d.level:,.1f}, times a seasonal factor of {d.seasonal.factor:.2f} "
        f"{_seasonal_words(d.seasonal, group, ctx.first)}. Upper-tail p = {d.p_value:.2g}, "
        f"q = {q:.2g} across {ctx.n_tested} series tested: {verdict}."
    )


def _seasonal_words(season: _Seasonal, group: str | None, first: int) -> str:
    if season.source == "none":
        return "(no earlier year with enough data)"
    whose = "its own history" if season.source == "own" else f"the pooled group {group!r}"
    seen = ", ".join(f"{_words(first + m)} {r:.2f}" for m, r in zip(season.months, season.ratios))
    if len(season.ratios) >= _YEARS_FOR_MEDIAN:
        return f"(median, from {whose}, of the same month in earlier years: {seen})"
    if season.factor > 1.0:
        rule = "the largest is used"
    else:
        rule = "a dip is not trusted, so no adjustment"
    return (
        f"(from {whose}, same month in earlier years: {seen}; with fewer than "
        f"{_YEARS_FOR_MEDIAN} years {rule})"
    )
