"""Counts to rates per 1,000 residents, and comparison of one area with its peers.

A count means little without the population it comes from: 300 burglaries is high for a
ward of 5,000 people and low for a district of 130,000. This module turns counts into
rates, refusing (with a reason) where the population is zero or unknown, and compares one
area's rate with the rest of a peer group using the exact conditional Poisson test of
:func:`csp_analytics.compare.poisson_change_test`, with the populations as exposures.

Rates use *resident* population (e.g. Census 2011 or mid-year estimates); areas with many
visitors (town centres) have high rates that do not mean residents are at high risk. See
``docs/analytics/rates-and-peers.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from csp_analytics._arrays import FloatArray
from csp_analytics.compare import poisson_change_test

__all__ = ["PeerComparison", "Rates", "peer_comparison", "rate_per_1000"]


@dataclass(frozen=True)
class Rates:
    """Result of :func:`rate_per_1000`.

    Attributes
    ----------
    counts, population : numpy.ndarray
        The inputs as float arrays (read-only copies; NaN where unknown).
    per_1000 : numpy.ndarray
        ``1000 * counts / population``; NaN where it cannot be computed (read-only).
    reasons : tuple of (str or None)
        ``None`` where the rate was computed, otherwise why not: "population is unknown",
        "population is zero", "population is negative" or "count is unknown".
    """

    counts: FloatArray
    population: FloatArray
    per_1000: FloatArray
    reasons: tuple[str | None, ...]


def _reason(count: float, population: float) -> str | None:
    if not math.isfinite(population):
        return "population is unknown"
    if population == 0:
        return "population is zero"
    if population < 0:
        return "population is negative"
    if not math.isfinite(count):
        return "count is unknown"
    if count < 0:
        return "count is negative"
    return None


def rate_per_1000(counts: npt.ArrayLike, population: npt.ArrayLike) -> Rates:
    """Rates per 1,000 residents, NaN with a reason where a rate cannot be computed.

    Parameters
    ----------
    counts : array_like
        Incident counts per area (NaN or ``None`` for unknown). Not modified.
    population : array_like
        Resident population per area, same length (NaN or ``None`` for unknown).

    Returns
    -------
    Rates
        Per-area rates and, for each area without one, the reason.

    Raises
    ------
    ValueError
        If the two inputs have different shapes or are not one-dimensional.

    References
    ----------
    Home Office (2023). *Crime outcomes / police recorded crime*: "offences per 1,000
    population" using ONS mid-year population estimates.

    Examples
    --------
    >>> r = rate_per_1000([12, 3, 5], [6000, 0, None])
    >>> r.per_1000.tolist()
    [2.0, nan, nan]
    >>> r.reasons
    (None, 'population is zero', 'population is unknown')
    """
    c = np.array(counts, dtype=float)
    p = np.array(population, dtype=float)
    if c.ndim != 1 or c.shape != p.shape:
        raise ValueError(f"counts {c.shape} and population {p.shape} must be 1-D, same length")
    reasons = tuple(_reason(float(a), float(b)) for a, b in zip(c, p))
    ok = np.array([r is None for r in reasons], dtype=bool)
    per_1000 = np.full(c.shape, np.nan)
    per_1000[ok] = 1000.0 * c[ok] / p[ok]
    for array in (c, p, per_1000):
        array.setflags(write=False)
    return Rates(c, p, per_1000, reasons)


@dataclass(frozen=True)
class PeerComparison:
    """Result of :func:`peer_comparison`. Rates are per 1,000 residents.

    Attributes
    ----------
    focus : str
        The area compared with its peers.
    codes : tuple of str
        Area codes in input order.
    rates : numpy.ndarray
        Rate per 1,000 for every area (NaN where it could not be computed).
    excluded : tuple of (str, str)
        ``(code, reason)`` for peers left out because their rate could not be computed.
    focus_count, focus_population, focus_rate : float
        The focus area's figures.
    rest_count, rest_population, rest_rate : float
        The other included areas pooled (sum of counts / sum of populations).
    group_pooled_rate : float
        All included areas pooled, focus included.
    group_mean_rate : float
        Unweighted mean of the included areas' rates, focus included (each area counts
        once, whatever its size).
    rate_ratio, ci_low, ci_high : float
        Focus rate / rest rate and its exact confidence interval.
    p_value : float
        Two-sided exact conditional Poisson test of "focus rate = rest rate".
    rank : int
        Rank of the focus rate among included areas, 1 = highest rate; ties share the best
        rank (1, 2, 2, 4).
    n_ranked : int
        Number of areas ranked.
    confidence : float
        Confidence level of the interval.
    """

    focus: str
    codes: tuple[str, ...]
    rates: FloatArray
    excluded: tuple[tuple[str, str], ...]
    focus_count: float
    focus_population: float
    focus_rate: float
    rest_count: float
    rest_population: float
    rest_rate: float
    group_pooled_rate: float
    group_mean_rate: float
    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    rank: int
    n_ranked: int
    confidence: float


def peer_comparison(
    area_codes: Sequence[str],
    counts: npt.ArrayLike,
    populations: npt.ArrayLike,
    *,
    focus: str,
    confidence: float = 0.95,
) -> PeerComparison:
    """Compare one area's rate per 1,000 residents with its peer group.

    The focus area is compared with the *rest* of the group pooled (the focus excluded, so
    it is not compared with itself), using the exact conditional Poisson test with the
    populations as exposures: given the total ``n`` of focus and rest counts, the focus
    count is ``Binomial(n, P_focus / (P_focus + P_rest))`` if the two rates are equal.
    The group average is given two ways: pooled (a resident's risk across the group) and
    the unweighted mean of area rates (a typical area).

    Peers whose rate cannot be computed (unknown or zero population, unknown count) are
    left out of the rest, the averages and the ranking, and listed in ``excluded``.

    Parameters
    ----------
    area_codes : sequence of str
        Unique area codes (e.g. LAD or ward codes, one boundary generation).
    counts : array_like of int
        Incident counts per area over the same period. Known counts must be whole numbers.
    populations : array_like of float
        Resident population per area.
    focus : str
        Code of the area to compare; it must have a rate.
    confidence : float, default 0.95
        Confidence level for the rate-ratio interval.

    Returns
    -------
    PeerComparison

    Raises
    ------
    ValueError
        If codes are not unique, lengths differ, ``focus`` is not in the group or has no
        rate, fewer than one peer has a rate, or a known count is not a whole number.

    References
    ----------
    Przyborowski, J. and Wilenski, H. (1940). Homogeneity of results in testing samples
    from Poisson series. *Biometrika* 31, 313-323.

    Examples
    --------
    >>> pc = peer_comparison(["A", "B", "C"], [30, 10, 20], [10_000, 10_000, 10_000],
    ...                      focus="A")
    >>> pc.focus_rate, pc.rest_rate, pc.group_pooled_rate, pc.rank
    (3.0, 1.5, 2.0, 1)
    >>> round(pc.p_value, 4)
    0.0087
    """
    codes = tuple(area_codes)
    if len(set(codes)) != len(codes):
        raise ValueError("area codes must be unique")
    rates = rate_per_1000(counts, populations)
    if len(codes) != rates.counts.size:
        raise ValueError("area_codes, counts and populations must have the same length")
    if focus not in codes:
        raise ValueError(f"focus area {focus!r} is not in the group")
    i = codes.index(focus)
    if rates.reasons[i] is not None:
        raise ValueError(f"focus area {focus!r} has no rate: {rates.reasons[i]}")
    ok = np.array([r is None for r in rates.reasons], dtype=bool)
    known = rates.counts[ok]
    if np.any(known != np.round(known)):
        raise ValueError("counts must be whole numbers")
    rest = ok.copy()
    rest[i] = False
    if not rest.any():
        raise ValueError("no peer has a rate to compare with")
    return _compare(codes, rates, i, ok, rest, confidence)


def _compare(
    codes: tuple[str, ...],
    rates: Rates,
    i: int,
    ok: npt.NDArray[np.bool_],
    rest: npt.NDArray[np.bool_],
    confidence: float,
) -> PeerComparison:
    c, p, r = rates.counts, rates.population, rates.per_1000
    rest_count, rest_pop = float(c[rest].sum()), float(p[rest].sum())
    test = poisson_change_test(
        int(c[i]),
        int(rest_count),
        current_exposure=float(p[i]),
        baseline_exposure=rest_pop,
        confidence=confidence,
    )
    excluded = tuple(
        (code, reason) for code, reason in zip(codes, rates.reasons) if reason is not None
    )
    return PeerComparison(
        focus=codes[i],
        codes=codes,
        rates=r,
        excluded=excluded,
        focus_count=float(c[i]),
        focus_population=float(p[i]),
        focus_rate=float(r[i]),
        rest_count=rest_count,
        rest_population=rest_pop,
        rest_rate=1000.0 * rest_count / rest_pop,
        group_pooled_rate=1000.0 * float(c[ok].sum()) / float(p[ok].sum()),
        group_mean_rate=float(r[ok].mean()),
        rate_ratio=test.rate_ratio,
        ci_low=test.ci_low,
        ci_high=test.ci_high,
        p_value=test.p_value,
        rank=1 + int(np.sum(r[ok] > r[i])),
        n_ranked=int(ok.sum()),
        confidence=confidence,
    )
