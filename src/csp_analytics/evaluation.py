"""Did it work? Before and after in an area, against comparison areas, with displacement.

An action (more patrols, a PSPO, CCTV, a clean-up) starts in an area in a given month. This
module answers three questions from monthly incident counts and says in plain English how
sure the answer is, or refuses to answer (and says why) when the numbers cannot carry one:

1. **Which areas to compare with** (:func:`choose_comparisons`): the candidates most like
   the area before the start, by a distance on the pre-period level (log of the mean per
   month) and trend (relative slope per month, scaled to the length of the pre-period), in
   the spirit of matching on pre-intervention outcomes (Abadie, Diamond & Hainmueller
   2010).
2. **Did the area change more than the comparison areas** (:func:`did_rate_ratio`): a
   difference-in-differences on the log scale, i.e. the ratio of the area's after/before
   rate ratio to the comparison areas' (a two-period Poisson log-linear model with area and
   period effects, whose interaction estimate has this closed form; Angrist & Pischke 2009,
   ch. 5), with a quasi-Poisson standard error that allows for overdispersion (McCullagh &
   Nelder 1989, section 4.5), a 95% confidence interval and a two-sided p-value.
3. **Did crime move next door** (:func:`weighted_displacement_quotient`): the weighted
   displacement quotient of Bowers & Johnson (2003) for a buffer ring around the area
   against the same comparison areas, with a rate-ratio test of the ring.

:func:`evaluate` runs the three and writes the verdict ("ASB in the area fell 18% against a
3% fall in the comparison wards; the difference is unlikely to be chance (p = 0.01); no
sign of displacement into the surrounding 500 m").

References
----------
Abadie, A., Diamond, A. & Hainmueller, J. (2010). Synthetic control methods for comparative
case studies. *Journal of the American Statistical Association* 105(490), 493-505.

Angrist, J. D. & Pischke, J.-S. (2009). *Mostly Harmless Econometrics*. Princeton
University Press, chapter 5.

Bowers, K. J. & Johnson, S. D. (2003). Measuring the geographical displacement and
diffusion of benefit effects of crime prevention activity. *Journal of Quantitative
Criminology* 19(3), 275-301.

McCullagh, P. & Nelder, J. A. (1989). *Generalized Linear Models*, 2nd edition. Chapman &
Hall, section 4.5 (overdispersion).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from csp_analytics._arrays import FloatArray

__all__ = [
    "Displacement",
    "DiD",
    "Evaluation",
    "Matching",
    "choose_comparisons",
    "did_rate_ratio",
    "dispersion",
    "evaluate",
    "weighted_displacement_quotient",
]

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


# ----------------------------------------------------------------------------------------
# 1. Comparison areas


def _level_and_trend(pre: FloatArray) -> tuple[float, float]:
    """Log mean per month (+0.5, so an empty area has a level) and the relative slope:
    the least-squares slope of counts on month, divided by the mean, times the number of
    months (the proportional change across the pre-period a straight line implies)."""
    n = pre.size
    mean = float(pre.mean())
    level = math.log(mean + 0.5)
    if n < 2 or mean == 0:
        return level, 0.0
    t = np.arange(n, dtype=np.float64)
    slope = float(np.polyfit(t, pre, 1)[0])
    return level, slope / mean * n


@dataclass(frozen=True)
class Matching:
    """Result of :func:`choose_comparisons`.

    Attributes
    ----------
    chosen : tuple of int
        Indices (into the pool) of the comparison areas, nearest first.
    distance : numpy.ndarray
        Distance of every pool candidate from the area (read-only).
    level, trend : float
        The area's pre-period level (log mean per month) and trend (relative slope times
        the number of months).
    """

    chosen: tuple[int, ...]
    distance: FloatArray
    level: float
    trend: float


def choose_comparisons(
    target_pre: npt.ArrayLike, pool_pre: npt.ArrayLike, *, k: int = 5
) -> Matching:
    """Choose the ``k`` candidates most like the area before the start.

    The distance of candidate *c* from the area *a* is
    ``sqrt((L_c - L_a)**2 + (S_c - S_a)**2)`` where ``L = ln(mean + 0.5)`` is the level
    (log of the mean count per month) and ``S = n * slope / mean`` the trend (the
    least-squares slope of counts on month over the ``n`` pre-period months, relative to
    the mean: the proportional change across the pre-period). Both are on a proportional
    scale, so a candidate twice as busy is as far as one whose line rose by 69% more.

    Parameters
    ----------
    target_pre : array_like, shape (n,)
        The area's counts per month before the start (no gaps).
    pool_pre : array_like, shape (m, n)
        The candidates' counts over the same months.
    k : int
        How many to choose (fewer when the pool is smaller).

    Examples
    --------
    The area had 10 a month, flat. Candidate 0 is flat at 10, candidate 1 flat at 40
    (level distance ln(40.5/10.5) = 1.35), candidate 2 rises 5, 10, 15 (mean 10, slope 5,
    trend 5 / 10 * 3 = 1.5):

    >>> m = choose_comparisons([10, 10, 10], [[10, 10, 10], [40, 40, 40], [5, 10, 15]], k=2)
    >>> m.chosen
    (0, 1)
    >>> [round(float(d), 2) for d in m.distance]
    [0.0, 1.35, 1.5]
    """
    target = np.asarray(target_pre, dtype=np.float64)
    pool = np.asarray(pool_pre, dtype=np.float64).reshape(-1, target.size)
    if not (np.isfinite(target).all() and np.isfinite(pool).all()):
        raise ValueError("choose_comparisons needs complete months (no NaN)")
    level, trend = _level_and_trend(target)
    features = [_level_and_trend(row) for row in pool]
    distance = np.array([math.hypot(lv - level, tr - trend) for lv, tr in features])
    order = np.argsort(distance, kind="stable")[: max(k, 0)]
    distance.setflags(write=False)
    return Matching(tuple(int(i) for i in order), distance, level, trend)


# ----------------------------------------------------------------------------------------
# 2. Difference in differences


def dispersion(series: Sequence[npt.ArrayLike]) -> float:
    """Quasi-Poisson dispersion of monthly counts around each series' own mean.

    ``phi = sum((y - mean)**2 / mean) / sum(n - 1)`` over the series (each a run of months
    in one area and one period), floored at 1: counts that vary no more than Poisson
    counts keep the Poisson variance; counts that vary more widen the interval by
    ``sqrt(phi)`` (McCullagh & Nelder 1989, section 4.5). Series with a zero mean or
    fewer than two months add nothing.

    Examples
    --------
    Months 2, 6 (mean 4: (4 + 4) / 4 = 2 on 1 degree of freedom) alone, then with 5, 5, 5
    (0 on 2): 2 / 3 is below Poisson, so 1:

    >>> round(dispersion([[2, 6]]), 4)
    2.0
    >>> round(dispersion([[2, 6], [5, 5, 5]]), 4)
    1.0
    """
    chi2, df = 0.0, 0
    for s in series:
        y = np.asarray(s, dtype=np.float64)
        mean = float(y.mean()) if y.size else 0.0
        if y.size < 2 or mean <= 0:
            continue
        chi2 += float(((y - mean) ** 2 / mean).sum())
        df += y.size - 1
    return max(1.0, chi2 / df) if df else 1.0


@dataclass(frozen=True)
class DiD:
    """Result of :func:`did_rate_ratio`: the area's change against the comparison's.

    Attributes
    ----------
    area_change, comparison_change : float
        After/before ratio of the mean per month, minus 1 (-0.18 is an 18% fall).
    ratio : float
        ``(1 + area_change) / (1 + comparison_change)``: below 1, the area did better.
    ci_low, ci_high : float
        95% confidence interval of the ratio.
    p_value : float
        Two-sided p-value of "no difference" (ratio 1).
    se_log : float
        Standard error of ``log(ratio)`` (quasi-Poisson).
    phi : float
        The dispersion used.
    """

    area_change: float
    comparison_change: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    se_log: float
    phi: float


def did_rate_ratio(
    t0: float,
    t1: float,
    c0: float,
    c1: float,
    *,
    months_before: int,
    months_after: int,
    phi: float = 1.0,
) -> DiD:
    """Difference in differences of two Poisson counts, as a ratio of rate ratios.

    ``ratio = (t1 / t0) / (c1 / c0)`` (the months cancel when both sides cover the same
    months) with ``var(log ratio) = phi * (1/t0 + 1/t1 + 1/c0 + 1/c1)``, the delta-method
    variance of the interaction of a two-by-two Poisson log-linear model, scaled by the
    dispersion ``phi``. A zero count is continuity-corrected by adding 0.5 to all four.

    Parameters
    ----------
    t0, t1 : float
        Incidents in the area before and after the start.
    c0, c1 : float
        Incidents in the comparison areas (summed) over the same months.
    months_before, months_after : int
        Months counted before and after (for the changes per month).
    phi : float
        Dispersion (see :func:`dispersion`); 1 is Poisson.

    Examples
    --------
    100 before and 80 after in the area (-20%), 400 and 380 in the comparison (-5%):
    ratio 0.8 / 0.95 = 0.8421, se = sqrt(1/100 + 1/80 + 1/400 + 1/380) = 0.1662,
    z = ln(0.8421) / 0.1662 = -1.034, p = 0.30:

    >>> d = did_rate_ratio(100, 80, 400, 380, months_before=12, months_after=12)
    >>> round(d.ratio, 4), round(d.se_log, 4), round(d.p_value, 2)
    (0.8421, 0.1662, 0.3)
    >>> round(d.ci_low, 3), round(d.ci_high, 3)
    (0.608, 1.166)
    """
    if min(t0, t1, c0, c1) < 0 or months_before < 1 or months_after < 1:
        raise ValueError("counts must be >= 0 and both periods at least one month")
    if min(t0, t1, c0, c1) == 0:
        t0, t1, c0, c1 = t0 + 0.5, t1 + 0.5, c0 + 0.5, c1 + 0.5
    per = months_before / months_after
    area_change = t1 / t0 * per - 1
    comparison_change = c1 / c0 * per - 1
    log_ratio = math.log(t1 / t0) - math.log(c1 / c0)
    se = math.sqrt(phi * (1 / t0 + 1 / t1 + 1 / c0 + 1 / c1))
    z = log_ratio / se
    p = float(2 * stats.norm.sf(abs(z)))
    return DiD(
        area_change=area_change,
        comparison_change=comparison_change,
        ratio=math.exp(log_ratio),
        ci_low=math.exp(log_ratio - Z95 * se),
        ci_high=math.exp(log_ratio + Z95 * se),
        p_value=p,
        se_log=se,
        phi=phi,
    )


# ----------------------------------------------------------------------------------------
# 3. Displacement


@dataclass(frozen=True)
class Displacement:
    """Result of :func:`weighted_displacement_quotient`.

    Attributes
    ----------
    success : float
        Success measure ``R_A/C_A - R_B/C_B`` (negative: the area improved against the
        comparison).
    buffer_measure : float
        Buffer displacement measure ``B_A/C_A - B_B/C_B`` (positive: the ring got worse
        against the comparison).
    wdq : float or None
        ``buffer_measure / success``; None when the area did not improve (success >= 0),
        as the quotient is then not defined (Bowers & Johnson 2003).
    ring : DiD
        The ring's change against the comparison areas, with its test.
    """

    success: float
    buffer_measure: float
    wdq: float | None
    ring: DiD

    @property
    def displaced(self) -> bool:
        """Did the ring get worse against the comparison, beyond chance (p < 0.05)?"""
        return self.ring.ratio > 1 and self.ring.p_value < 0.05

    @property
    def words(self) -> str:
        """What the quotient says (Bowers & Johnson 2003, table 1)."""
        if self.wdq is None:
            return (
                "the area did not improve against the comparison, so there was nothing to displace"
            )
        if self.wdq > 0:
            return "a diffusion of benefits into the ring (WDQ above 0)"
        if self.wdq == 0:
            return "neither displacement nor diffusion (WDQ 0)"
        if self.wdq >= -1:
            return (
                "some displacement into the ring, smaller than the fall in the area (WDQ 0 to -1)"
            )
        return "displacement into the ring larger than the fall in the area (WDQ below -1)"


def weighted_displacement_quotient(
    area: tuple[float, float],
    ring: tuple[float, float],
    control: tuple[float, float],
    *,
    months_before: int,
    months_after: int,
    phi: float = 1.0,
) -> Displacement:
    """Weighted displacement quotient of Bowers & Johnson (2003).

    ``WDQ = (B_A/C_A - B_B/C_B) / (R_A/C_A - R_B/C_B)`` with R the response (treated)
    area, B the buffer ring, C the control areas, A after and B before. Counts are turned
    into means per month first, so unequal periods compare fairly (the ratios to C are
    unchanged when both periods have the same length).

    Parameters
    ----------
    area, ring, control : tuple of float
        (before, after) incident counts in the area, the ring and the control areas.
    months_before, months_after : int
        Months in each period.
    phi : float
        Dispersion for the ring's test (:func:`did_rate_ratio`).

    Examples
    --------
    Area 50 -> 30, ring 40 -> 38, control 200 -> 200 (same months): success
    30/200 - 50/200 = -0.10, buffer 38/200 - 40/200 = -0.01, WDQ = -0.01 / -0.10 = 0.1,
    a small diffusion of benefits:

    >>> w = weighted_displacement_quotient((50, 30), (40, 38), (200, 200),
    ...                                    months_before=6, months_after=6)
    >>> round(w.success, 3), round(w.buffer_measure, 3), round(w.wdq, 2)
    (-0.1, -0.01, 0.1)
    >>> w.displaced
    False
    """
    (r0, r1), (b0, b1), (c0, c1) = area, ring, control
    if c0 <= 0 or c1 <= 0:
        raise ValueError("the control areas need incidents in both periods")
    mb, ma = months_before, months_after
    success = (r1 / ma) / (c1 / ma) - (r0 / mb) / (c0 / mb)
    buffer_measure = (b1 / ma) / (c1 / ma) - (b0 / mb) / (c0 / mb)
    wdq = buffer_measure / success if success < 0 else None
    test = did_rate_ratio(b0, b1, c0, c1, months_before=mb, months_after=ma, phi=phi)
    return Displacement(success, buffer_measure, wdq, test)


# ----------------------------------------------------------------------------------------
# The verdict


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    verdict : str
        The plain-English answer, or why there is none.
    refused : bool
        True when no verdict is given; ``reasons`` say why.
    reasons : tuple of str
        Why the verdict was refused (empty when given).
    outcome : str
        "fell", "rose", "no clear change" or "refused": the verdict in one phrase, for a
        badge beside the delivery RAG.
    comparison : tuple of str
        Names of the comparison areas chosen.
    did : DiD or None
        The difference in differences (None when refused before it could be computed).
    displacement : Displacement or None
        The ring check (None without a ring, or when refused).
    counts : dict
        Before and after totals: ``area``, ``comparison`` and ``ring`` (each a pair).
    months_before, months_after : int
        Months counted in each period.
    """

    verdict: str
    refused: bool
    reasons: tuple[str, ...]
    outcome: str
    comparison: tuple[str, ...] = ()
    did: DiD | None = None
    displacement: Displacement | None = None
    counts: dict[str, tuple[float, float]] | None = None
    months_before: int = 0
    months_after: int = 0


def _pct(x: float) -> str:
    return f"{abs(round(100 * x)):.0f}%"


def _change_words(change: float) -> str:
    if round(100 * change) == 0:
        return "stayed level"
    return f"{'fell' if change < 0 else 'rose'} {_pct(change)}"


def _refuse(reasons: list[str], **kw: object) -> Evaluation:
    verdict = "No verdict: " + "; ".join(reasons) + "."
    return Evaluation(verdict, True, tuple(reasons), "refused", **kw)  # type: ignore[arg-type]


def _runs(months: Sequence[str], idx: Sequence[int]) -> str:
    """Positions as month runs: "2018-01 to 2018-10, 2019-03" (``months`` is consecutive)."""
    parts, start = [], 0
    for k in range(1, len(idx) + 1):
        if k == len(idx) or idx[k] != idx[k - 1] + 1:
            a, b = months[idx[start]], months[idx[k - 1]]
            parts.append(a if a == b else f"{a} to {b}")
            start = k
    return ", ".join(parts)


def _gaps(months: Sequence[str], series: dict[str, FloatArray]) -> list[str]:
    out = []
    for name, y in series.items():
        missing = [int(i) for i in np.flatnonzero(~np.isfinite(y))]
        if missing:
            out.append(f"{name} has no data for {_runs(months, missing)}")
    return out


def evaluate(
    *,
    what: str,
    months: Sequence[str],
    n_before: int,
    area: npt.ArrayLike,
    pool: npt.ArrayLike,
    pool_names: Sequence[str],
    ring: npt.ArrayLike | None = None,
    ring_m: int = 500,
    k: int = 5,
    alpha: float = 0.05,
    min_months: int = 3,
    min_count: int = 10,
    comparison_word: str = "comparison areas",
) -> Evaluation:
    """Before and after in an area against automatically chosen comparison areas.

    Parameters
    ----------
    what : str
        What is counted, for the verdict ("ASB", "deliberate fires").
    months : sequence of str
        Month labels ("2024-01"), before then after.
    n_before : int
        How many of ``months`` are before the start.
    area : array_like, shape (T,)
        The area's counts per month; NaN for a month without data.
    pool : array_like, shape (m, T)
        Candidate comparison areas' counts (NaN: no data).
    pool_names : sequence of str
        Their names.
    ring : array_like, shape (T,), optional
        Counts in the buffer ring around the area (outside it), for displacement.
    ring_m : int
        The ring's width in metres, for the words.
    k : int
        How many comparison areas to choose.
    alpha : float
        The p-value below which a difference is called unlikely to be chance.
    min_months : int
        Fewest months with data before, and after, the start.
    min_count : int
        Fewest incidents in the area before the start, and in the comparison areas in
        each period (below it the interval is too wide to say anything).

    Returns
    -------
    Evaluation
        A verdict, or a refusal naming every reason.

    Notes
    -----
    A month without data for the area or the ring refuses the verdict (it would bias the
    before/after ratio); a candidate missing a month is dropped from the pool, never
    counted as zero.

    Examples
    --------
    Six months before and six after; the area falls from 20 to 12 a month while the four
    candidates stay level (one far busier):

    >>> months = [f"2024-{m:02d}" for m in range(1, 13)]
    >>> pool = [[20] * 12, [22] * 12, [19] * 12, [200] * 12]
    >>> e = evaluate(what="ASB", months=months, n_before=6, area=[20] * 6 + [12] * 6,
    ...              pool=pool, pool_names=["A", "B", "C", "D"], k=3)
    >>> e.comparison
    ('A', 'C', 'B')
    >>> e.verdict  # doctest: +NORMALIZE_WHITESPACE
    'ASB in the area fell 40% against no change in the comparison areas; the difference is
    unlikely to be chance (p = 0.002; after allowing for the comparison, 0.60 times the
    rate before, 95% interval 0.43 to 0.83).'
    """
    y = np.asarray(area, dtype=np.float64)
    cand = np.asarray(pool, dtype=np.float64).reshape(-1, y.size)
    names = list(pool_names)
    n_after = y.size - n_before
    reasons: list[str] = []
    if n_before < min_months or n_after < min_months:
        reasons.append(
            f"at least {min_months} months are needed before and after the start "
            f"(there are {n_before} before and {n_after} after)"
        )
    series = {"the area": y}
    if ring is not None:
        series[f"the surrounding {ring_m} m"] = np.asarray(ring, dtype=np.float64)
    reasons += _gaps(months, series)
    keep = [i for i in range(cand.shape[0]) if np.isfinite(cand[i]).all()]
    if not keep:
        reasons.append(f"no {comparison_word} have data for every month")
    if reasons:
        return _refuse(reasons, months_before=n_before, months_after=n_after)
    t0, t1 = float(y[:n_before].sum()), float(y[n_before:].sum())
    match = choose_comparisons(y[:n_before], cand[keep, :n_before], k=k)
    chosen = [keep[i] for i in match.chosen]
    comp = cand[chosen]
    c0, c1 = float(comp[:, :n_before].sum()), float(comp[:, n_before:].sum())
    counts: dict[str, tuple[float, float]] = {"area": (t0, t1), "comparison": (c0, c1)}
    if t0 < min_count:
        reasons.append(
            f"only {t0:.0f} {what} in the area before the start (at least {min_count} needed)"
        )
    if min(c0, c1) < min_count:
        reasons.append(
            f"only {min(c0, c1):.0f} {what} in the {comparison_word} in one period "
            f"(at least {min_count} needed)"
        )
    common = {"comparison": tuple(names[i] for i in chosen), "counts": counts}
    if reasons:
        return _refuse(reasons, months_before=n_before, months_after=n_after, **common)
    rows = [y[:n_before], y[n_before:], *comp[:, :n_before], *comp[:, n_before:]]
    phi = dispersion(rows)
    did = did_rate_ratio(t0, t1, c0, c1, months_before=n_before, months_after=n_after, phi=phi)
    disp = None
    if ring is not None:
        r = series[f"the surrounding {ring_m} m"]
        b0, b1 = float(r[:n_before].sum()), float(r[n_before:].sum())
        counts["ring"] = (b0, b1)
        disp = weighted_displacement_quotient(
            (t0, t1), (b0, b1), (c0, c1), months_before=n_before, months_after=n_after, phi=phi
        )
    verdict, outcome = _words(what, did, disp, ring_m, alpha, comparison_word)
    return Evaluation(
        verdict, False, (), outcome, did=did, displacement=disp,
        months_before=n_before, months_after=n_after, **common,  # type: ignore[arg-type]
    )  # fmt: skip


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _words(
    what: str, did: DiD, disp: Displacement | None, ring_m: int, alpha: float, comparison: str
) -> tuple[str, str]:
    comp = did.comparison_change
    against = (
        f"no change in the {comparison}"
        if round(100 * comp) == 0
        else f"a {_pct(comp)} {'fall' if comp < 0 else 'rise'} in the {comparison}"
    )
    head = f"{what} in the area {_change_words(did.area_change)} against {against}"
    interval = (
        f"after allowing for the comparison, {did.ratio:.2f} times the rate before, "
        f"95% interval {did.ci_low:.2f} to {did.ci_high:.2f}"
    )
    if did.p_value < alpha:
        chance = f"the difference is unlikely to be chance ({_p(did.p_value)}; {interval})"
        outcome = "fell" if did.ratio < 1 else "rose"
    else:
        chance = f"the difference could well be chance ({_p(did.p_value)}; {interval})"
        outcome = "no clear change"
    parts = [head, chance]
    if disp is not None:
        parts.append(_displacement_words(disp, ring_m))
    return "; ".join(parts) + ".", outcome


def _displacement_words(disp: Displacement, ring_m: int) -> str:
    where = f"the surrounding {ring_m} m"
    ring = disp.ring
    if disp.displaced:
        tail = f", WDQ {disp.wdq:.2f}" if disp.wdq is not None else ""
        return (
            f"sign of displacement: {where} rose {_pct(ring.ratio - 1)} against the "
            f"comparison ({_p(ring.p_value)}{tail})"
        )
    if disp.wdq is not None and disp.wdq > 0 and ring.ratio < 1 and ring.p_value < 0.05:
        return f"benefits spread into {where} (WDQ {disp.wdq:.2f}, {_p(ring.p_value)})"
    return f"no sign of displacement into {where} ({_p(ring.p_value)})"
