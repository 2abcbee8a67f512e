"""Period comparison for the strategic intelligence assessment (SIA).

An SIA compares this period's recorded incidents with a baseline period, category by
category and theme by theme, and turns the table into plain-English findings such as
"Anti-social behaviour decreased by 8% (2,981 to 2,743); the change is statistically
significant."

Three rules make the findings trustworthy:

* every change is tested with the exact conditional test for two Poisson counts
  (:func:`poisson_change_test`), allowing for periods of different length;
* the p-values of the whole table are adjusted for multiple testing with
  Benjamini-Hochberg (:func:`benjamini_hochberg`), and ``significant`` uses the adjusted
  value, so a 40-row table does not produce two "significant" changes by chance alone;
* a change that is not significant is never reported as a rise or fall without saying that
  it may be chance variation, and changes on small numbers carry a caution.

Counts are incidents *recorded* in each period (police.uk dates have month precision), not
crimes committed. The maths, assumptions and a worked example are in
``docs/analytics/sia-comparison.md``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "DIRECTIONS",
    "FALL",
    "NO_CHANGE",
    "RISE",
    "SHARE_WORDS",
    "CategoryCounts",
    "ChangeTest",
    "Finding",
    "SiaRow",
    "SiaTable",
    "benjamini_hochberg",
    "compare_periods",
    "findings",
    "poisson_change_test",
    "share_in_words",
]

# Relative tolerance used when deciding which outcomes are "no more likely" than the one
# observed; the same value as R's binom.test and scipy.stats.binomtest, so that outcomes
# with equal probability are not split by floating-point noise.
_RERR = 1.0 + 1e-7

#: The direction of a change in the rate (count per unit of exposure, e.g. per month).
RISE = "rise"
FALL = "fall"
NO_CHANGE = "no change"
DIRECTIONS = (RISE, FALL, NO_CHANGE)


# --------------------------------------------------------------------------------------
# The exact test for two Poisson counts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeTest:
    """Result of :func:`poisson_change_test`.

    Attributes
    ----------
    current, baseline : int
        The two counts compared.
    current_exposure, baseline_exposure : float
        Exposure of each count (months, or residents for a rate comparison).
    rate_ratio : float
        ``(current / current_exposure) / (baseline / baseline_exposure)``; ``inf`` when the
        baseline is 0 and the current count is not, ``nan`` when both are 0.
    ci_low, ci_high : float
        Exact (Clopper-Pearson based) confidence interval for the rate ratio; ``ci_high``
        is ``inf`` when the baseline count is 0.
    p_value : float
        Two-sided exact conditional p-value for "the two rates are equal".
    confidence : float
        Confidence level of the interval, e.g. 0.95.

    The properties ``current_rate``, ``baseline_rate``, ``rate_change``, ``direction`` and
    ``change_pct`` all compare the same two rates (count / exposure) in exact rational
    arithmetic, so a rise is never labelled a fall: when the periods have different
    exposures the counts can fall while the rate rises, and it is the rate that counts.

    Examples
    --------
    >>> t = poisson_change_test(294, 317, current_exposure=2, baseline_exposure=3)
    >>> t.direction, round(t.change_pct, 1), t.rate_change > 0, t.current < t.baseline
    ('rise', 39.1, True, True)
    """

    current: int
    baseline: int
    current_exposure: float
    baseline_exposure: float
    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float

    # Everything below comes from one comparison: the two rates as exact fractions
    # (count / exposure, with the exposures' float values taken exactly), so the direction,
    # the change and the percentage can never disagree in sign, whatever the exposures.

    def _exact_rates(self) -> tuple[Fraction, Fraction]:
        return (
            Fraction(self.current) / Fraction(self.current_exposure),
            Fraction(self.baseline) / Fraction(self.baseline_exposure),
        )

    @property
    def current_rate(self) -> float:
        """The current count per unit of exposure (per month when exposures are months)."""
        return float(self._exact_rates()[0])

    @property
    def baseline_rate(self) -> float:
        """The baseline count per unit of exposure."""
        return float(self._exact_rates()[1])

    @property
    def rate_change(self) -> float:
        """``current_rate - baseline_rate``: positive for a rise, negative for a fall."""
        now, before = self._exact_rates()
        return float(now - before)

    @property
    def direction(self) -> str:
        """:data:`RISE`, :data:`FALL` or :data:`NO_CHANGE` of the rate (not of the counts)."""
        now, before = self._exact_rates()
        return RISE if now > before else FALL if now < before else NO_CHANGE

    @property
    def change_pct(self) -> float | None:
        """Percentage change in the rate (``None`` when the baseline count is 0)."""
        if self.baseline == 0:
            return None
        now, before = self._exact_rates()
        return float(100 * (now / before - 1))


def _as_count(value: int, name: str) -> int:
    """Return ``value`` as a non-negative Python int, rejecting floats and negatives."""
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer count, got {value!r}") from None
    if count < 0:
        raise ValueError(f"{name} must be non-negative, got {count}")
    return count


def _as_exposure(value: float, name: str) -> float:
    exposure = float(value)
    if not math.isfinite(exposure) or exposure <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return exposure


def _binom_pmf(k: int, n: int, p: float) -> float:
    return float(stats.binom.pmf(k, n, p))


def _first_at_or_below(level: float, lo: int, hi: int, n: int, p: float) -> int:
    """Smallest j in [lo, hi] with pmf(j) <= level, pmf non-increasing on [lo, hi].

    Returns ``hi + 1`` when there is none.
    """
    while lo <= hi:
        mid = (lo + hi) // 2
        if _binom_pmf(mid, n, p) <= level:
            hi = mid - 1
        else:
            lo = mid + 1
    return lo


def _last_at_or_below(level: float, lo: int, hi: int, n: int, p: float) -> int:
    """Largest j in [lo, hi] with pmf(j) <= level, pmf non-decreasing on [lo, hi].

    Returns ``lo - 1`` when there is none.
    """
    while lo <= hi:
        mid = (lo + hi) // 2
        if _binom_pmf(mid, n, p) <= level:
            lo = mid + 1
        else:
            hi = mid - 1
    return hi


def _binom_two_sided_p(k: int, n: int, p: float) -> float:
    """Two-sided binomial p-value by the point-probability ("minlike") method.

    Sums the probabilities of every outcome no more likely than ``k``. The binomial pmf is
    non-decreasing up to ``floor(n p)`` and non-increasing from ``ceil(n p)``, so the
    outcomes on the far side are found by bisection and summed with cdf/sf (accurate for
    tiny p-values, O(log n) for large counts).
    """
    if n == 0:
        return 1.0
    level = _binom_pmf(k, n, p) * _RERR
    centre = n * p
    if k < centre:
        j = _first_at_or_below(level, math.ceil(centre), n, n, p)
        pval = float(stats.binom.cdf(k, n, p)) + float(stats.binom.sf(j - 1, n, p))
    elif k > centre:
        j = _last_at_or_below(level, 0, math.floor(centre), n, p)
        pval = float(stats.binom.cdf(j, n, p)) + float(stats.binom.sf(k - 1, n, p))
    else:
        return 1.0
    return min(1.0, pval)


def poisson_change_test(
    current: int,
    baseline: int,
    *,
    current_exposure: float = 1.0,
    baseline_exposure: float = 1.0,
    confidence: float = 0.95,
) -> ChangeTest:
    """Exact conditional test that two Poisson counts come from the same rate.

    If ``current ~ Poisson(e1 * r1)`` and ``baseline ~ Poisson(e0 * r0)`` then, given the
    total ``n = current + baseline``, ``current ~ Binomial(n, p)`` with
    ``p = e1 r1 / (e1 r1 + e0 r0)``. Under "no change" (``r1 = r0``) ``p0 = e1 / (e1 + e0)``,
    which does not depend on the unknown rate, so the test is exact at any count. The
    two-sided p-value sums the probabilities of all outcomes no more likely than the one
    observed (as R's ``binom.test``). The confidence interval for the rate ratio is the
    Clopper-Pearson interval ``(pl, pu)`` for ``p`` mapped through
    ``R = p / (1 - p) * e0 / e1``.

    Exposures make periods of different length comparable: 12 months against 11 months
    (a missing month) is ``current_exposure=12, baseline_exposure=11``.

    Parameters
    ----------
    current, baseline : int
        Non-negative integer counts (incidents recorded in each period).
    current_exposure, baseline_exposure : float, default 1.0
        Positive exposure for each count: months, or residents when comparing areas.
    confidence : float, default 0.95
        Confidence level for the rate-ratio interval.

    Returns
    -------
    ChangeTest
        Counts, exposures, rate ratio with its interval, and the two-sided p-value.

    Raises
    ------
    TypeError
        If a count is not an integer.
    ValueError
        If a count is negative, an exposure is not positive and finite, or ``confidence``
        is not strictly between 0 and 1.

    References
    ----------
    Przyborowski, J. and Wilenski, H. (1940). Homogeneity of results in testing samples
    from Poisson series. *Biometrika* 31, 313-323.

    Krishnamoorthy, K. and Thomson, J. (2004). A more powerful test for comparing two
    Poisson means. *Journal of Statistical Planning and Inference* 119, 23-35 (the
    "C-test").

    Clopper, C. J. and Pearson, E. S. (1934). The use of confidence or fiducial limits
    illustrated in the case of the binomial. *Biometrika* 26, 404-413.

    Examples
    --------
    >>> t = poisson_change_test(30, 15)
    >>> round(t.p_value, 4), round(t.rate_ratio, 2)
    (0.0357, 2.0)
    >>> t = poisson_change_test(120, 110, current_exposure=12, baseline_exposure=11)
    >>> round(t.rate_ratio, 3), t.p_value == 1.0
    (1.0, True)
    """
    k = _as_count(current, "current")
    b = _as_count(baseline, "baseline")
    e1 = _as_exposure(current_exposure, "current_exposure")
    e0 = _as_exposure(baseline_exposure, "baseline_exposure")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    n = k + b
    p0 = e1 / (e1 + e0)
    if n == 0:
        return ChangeTest(k, b, e1, e0, math.nan, 0.0, math.inf, 1.0, confidence)
    rate_ratio = math.inf if b == 0 else float(Fraction(k) * Fraction(e0) / (b * Fraction(e1)))
    ci_low, ci_high = _rate_ratio_interval(k, n, e1, e0, 1.0 - confidence)
    p_value = _binom_two_sided_p(k, n, p0)
    return ChangeTest(k, b, e1, e0, rate_ratio, ci_low, ci_high, p_value, confidence)


def _rate_ratio_interval(k: int, n: int, e1: float, e0: float, a: float) -> tuple[float, float]:
    """Clopper-Pearson interval for p = k / n, mapped to the rate ratio."""
    p_lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    p_hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    scale = e0 / e1
    lo = p_lo / (1.0 - p_lo) * scale
    hi = math.inf if p_hi >= 1.0 else p_hi / (1.0 - p_hi) * scale
    return lo, hi


def benjamini_hochberg(p_values: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    ``q_(i) = min_{j >= i} min(1, m p_(j) / j)`` over the p-values sorted ascending. A
    change is declared significant when ``q < alpha``; across the family this controls
    the expected proportion of false discoveries at ``alpha`` (for independent or
    positively dependent tests). NaN p-values are not part of the family and stay NaN.

    Parameters
    ----------
    p_values : array_like of float
        Raw p-values in [0, 1]; NaN marks "not tested".

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape and order as the input (a new array).

    References
    ----------
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a
    practical and powerful approach to multiple testing. *Journal of the Royal
    Statistical Society B* 57, 289-300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    p = np.array(p_values, dtype=float).ravel()
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    q = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = tested.size
    if m == 0:
        return q
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return np.asarray(np.maximum(q, p), dtype=np.float64)  # m p / m can round below p


# --------------------------------------------------------------------------------------
# The SIA table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryCounts:
    """Counts for one category in the two periods.

    ``theme`` groups categories (e.g. theme "Anti-social behaviour", category "Vehicle
    nuisance"). A theme with one category is allowed; its theme row repeats the category.
    """

    category: str
    theme: str
    current: int
    baseline: int


@dataclass(frozen=True)
class SiaRow:
    """One row of an SIA comparison: a category or a theme total.

    Attributes
    ----------
    level : str
        ``"theme"`` or ``"category"``.
    theme : str
        The theme (for a theme row, its own name).
    category : str or None
        The category; ``None`` on theme rows.
    current, baseline : int
        Counts in the current and baseline periods.
    current_per_month, baseline_per_month : float
        The counts divided by the months with data in each period (the monthly rates).
    change_per_month : float
        ``current_per_month - baseline_per_month``. With periods of different length the
        raw difference of counts can have the opposite sign, so it is not given.
    direction : str
        :data:`RISE`, :data:`FALL` or :data:`NO_CHANGE` of the monthly rate: always the
        sign of ``change_per_month`` and of ``change_pct``.
    change_pct : float or None
        Percentage change in the *monthly rate*, ``100 * (rate_ratio - 1)``; equal to the
        percentage change in counts when the periods have the same number of months.
        ``None`` when the baseline is 0.
    share_of_theme : float or None
        Category rows: current count / theme current count (a fraction, 0-1). ``None`` on
        theme rows and when the theme's current count is 0.
    share_change : float or None
        Category rows: share of theme now minus share in the baseline (a fraction, so
        0.05 is 5 percentage points). ``None`` when either share is undefined.
    rate_ratio, ci_low, ci_high : float
        Ratio of monthly rates (current / baseline) and its exact confidence interval.
    p_value : float
        Two-sided exact conditional p-value (:func:`poisson_change_test`).
    q_value : float
        Benjamini-Hochberg adjusted p-value across every row of the table.
    significant : bool
        ``q_value < alpha``.
    small_numbers : bool
        Counts too small for a reliable percentage (see :func:`compare_periods`).
    """

    level: str
    theme: str
    category: str | None
    current: int
    baseline: int
    current_per_month: float
    baseline_per_month: float
    change_per_month: float
    direction: str
    change_pct: float | None
    share_of_theme: float | None
    share_change: float | None
    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    q_value: float
    significant: bool
    small_numbers: bool

    @property
    def label(self) -> str:
        """The row's name: the category, or the theme on a theme row."""
        return self.theme if self.category is None else self.category

    @property
    def reading(self) -> str:
        """The row's verdict in words: "significant rise", "significant fall" or "not
        significant" (the direction is that of the monthly rate, like ``change_pct``)."""
        if not self.significant or self.direction == NO_CHANGE:
            return "not significant"
        return f"significant {self.direction}"


@dataclass(frozen=True)
class SiaTable:
    """An SIA comparison: theme rows, each followed by its category rows.

    Themes appear in the order of their first category in the input, and categories keep
    their input order within a theme.
    """

    rows: tuple[SiaRow, ...]
    current_months: int
    baseline_months: int
    alpha: float
    small_number: int
    small_cell: int
    confidence: float

    def themes(self) -> tuple[SiaRow, ...]:
        """The theme rows."""
        return tuple(r for r in self.rows if r.level == "theme")

    def categories(self, theme: str | None = None) -> tuple[SiaRow, ...]:
        """The category rows, optionally only those of one theme."""
        return tuple(r for r in self.rows if r.level == "category" and theme in (None, r.theme))

    def row(self, name: str, *, level: str = "category") -> SiaRow:
        """The row for a category (or, with ``level="theme"``, a theme)."""
        for r in self.rows:
            if r.level == level and r.label == name:
                return r
        raise KeyError(f"no {level} row named {name!r}")

    def to_records(self) -> list[dict[str, object]]:
        """Rows as plain dicts, safe for ``json.dumps(..., allow_nan=False)``.

        Infinite or undefined numbers (e.g. the upper limit of the rate-ratio interval when
        the baseline is 0) become ``None``.
        """
        return [
            {
                "level": r.level,
                "theme": r.theme,
                "category": r.category,
                "current": r.current,
                "baseline": r.baseline,
                "current_per_month": r.current_per_month,
                "baseline_per_month": r.baseline_per_month,
                "change_per_month": r.change_per_month,
                "direction": r.direction,
                "change_pct": _finite_or_none(r.change_pct),
                "share_of_theme": _finite_or_none(r.share_of_theme),
                "share_change": _finite_or_none(r.share_change),
                "rate_ratio": _finite_or_none(r.rate_ratio),
                "ci_low": _finite_or_none(r.ci_low),
                "ci_high": _finite_or_none(r.ci_high),
                "p_value": _finite_or_none(r.p_value),
                "q_value": _finite_or_none(r.q_value),
                "significant": r.significant,
                "reading": r.reading,
                "small_numbers": r.small_numbers,
            }
            for r in self.rows
        ]


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def compare_periods(
    rows: Sequence[CategoryCounts],
    *,
    current_months: int,
    baseline_months: int,
    alpha: float = 0.05,
    small_number: int = 20,
    small_cell: int = 5,
    confidence: float = 0.95,
) -> SiaTable:
    """Compare two periods category by category and theme by theme.

    Each category and each theme total gets the exact conditional Poisson test of
    :func:`poisson_change_test` with the period lengths in months as exposures. The
    p-values of all rows (themes and categories together: every statement the report may
    make) are adjusted with Benjamini-Hochberg, and ``significant`` means ``q < alpha``.
    The same test gives every row its monthly rates, its direction, its change per month and
    its percentage change, so they always agree (a count that fell over 3 months to 2 months
    can be a rise in the monthly rate, and is then reported as a rise).

    A row is flagged ``small_numbers`` when ``current + baseline < small_number`` or either
    count is below ``small_cell``. The defaults follow the Office for National Statistics
    convention that a rate based on fewer than 20 events is unreliable (its relative
    standard error, ``1 / sqrt(20)``, is over 20%); a count below 5 in either period also
    makes the percentage change meaningless (2 to 4 is "+100%").

    Parameters
    ----------
    rows : sequence of CategoryCounts
        One entry per category; category names must be unique. Not modified.
    current_months, baseline_months : int
        Number of months of data in each period (e.g. 12 and 11 when a month is missing).
    alpha : float, default 0.05
        False discovery rate for ``significant``.
    small_number : int, default 20
        Flag rows whose two counts add up to less than this.
    small_cell : int, default 5
        Flag rows where either count is below this.
    confidence : float, default 0.95
        Confidence level of the rate-ratio intervals.

    Returns
    -------
    SiaTable
        One theme row followed by its category rows, for every theme.

    References
    ----------
    Przyborowski, J. and Wilenski, H. (1940). *Biometrika* 31, 313-323.

    Benjamini, Y. and Hochberg, Y. (1995). *JRSS B* 57, 289-300.

    Office for National Statistics (2021). *Mortality statistics in England and Wales
    QMI*: rates based on fewer than 20 events are marked as unreliable.

    Examples
    --------
    >>> table = compare_periods(
    ...     [CategoryCounts("Vehicle nuisance", "ASB", 893, 620),
    ...      CategoryCounts("Youth related", "ASB", 700, 1030),
    ...      CategoryCounts("Other ASB", "ASB", 850, 831)],
    ...     current_months=12, baseline_months=12)
    >>> asb = table.row("ASB", level="theme")
    >>> asb.current, asb.baseline, round(asb.change_pct, 1), asb.significant
    (2443, 2481, -1.5, False)
    >>> vn = table.row("Vehicle nuisance")
    >>> round(vn.change_pct), round(vn.share_of_theme, 2), vn.significant
    (44, 0.37, True)
    """
    cm = _as_count(current_months, "current_months")
    bm = _as_count(baseline_months, "baseline_months")
    if cm == 0 or bm == 0:
        raise ValueError("current_months and baseline_months must be at least 1")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    drafts = _drafts(_group_by_theme(rows))
    tests = [
        poisson_change_test(
            d.current, d.baseline, current_exposure=cm, baseline_exposure=bm, confidence=confidence
        )
        for d in drafts
    ]
    q_values = benjamini_hochberg([t.p_value for t in tests])
    out = tuple(
        SiaRow(
            level=d.level,
            theme=d.theme,
            category=d.category,
            current=d.current,
            baseline=d.baseline,
            current_per_month=t.current_rate,
            baseline_per_month=t.baseline_rate,
            change_per_month=t.rate_change,
            direction=t.direction,
            change_pct=t.change_pct,
            share_of_theme=d.share,
            share_change=d.share_change,
            rate_ratio=t.rate_ratio,
            ci_low=t.ci_low,
            ci_high=t.ci_high,
            p_value=t.p_value,
            q_value=float(q),
            significant=bool(q < alpha),
            small_numbers=(
                d.current + d.baseline < small_number or min(d.current, d.baseline) < small_cell
            ),
        )
        for d, t, q in zip(drafts, tests, q_values)
    )
    return SiaTable(out, cm, bm, alpha, small_number, small_cell, confidence)


@dataclass(frozen=True)
class _RowDraft:
    level: str
    theme: str
    category: str | None
    current: int
    baseline: int
    share: float | None
    share_change: float | None


def _drafts(themes: dict[str, list[tuple[str, int, int]]]) -> list[_RowDraft]:
    """Theme totals followed by their categories, with each category's share of theme."""
    drafts: list[_RowDraft] = []
    for theme, members in themes.items():
        cur = sum(c for _, c, _ in members)
        base = sum(b for _, _, b in members)
        drafts.append(_RowDraft("theme", theme, None, cur, base, None, None))
        for name, c, b in members:
            share = c / cur if cur else None
            base_share = b / base if base else None
            shift = None if share is None or base_share is None else share - base_share
            drafts.append(_RowDraft("category", theme, name, c, b, share, shift))
    return drafts


def _group_by_theme(rows: Sequence[CategoryCounts]) -> dict[str, list[tuple[str, int, int]]]:
    """Validate the input rows and group them by theme, keeping first-seen order."""
    themes: dict[str, list[tuple[str, int, int]]] = {}
    seen: set[str] = set()
    for row in rows:
        if row.category in seen:
            raise ValueError(f"category {row.category!r} appears more than once")
        seen.add(row.category)
        cur = _as_count(row.current, f"current count of {row.category!r}")
        base = _as_count(row.baseline, f"baseline count of {row.category!r}")
        themes.setdefault(row.theme, []).append((row.category, cur, base))
    return themes


# --------------------------------------------------------------------------------------
# Findings in plain English
# --------------------------------------------------------------------------------------

#: Fractions used to describe a share in words, as (value, words). A share is described
#: by the nearest fraction: "about" when within 1 percentage point, "over" when above it
#: and "nearly" when below it (so 36% is "over a third", 48% "nearly half", 50% "about
#: half"). Below 8.5% is "less than a tenth", above 95% "almost all".
SHARE_WORDS: tuple[tuple[float, str], ...] = (
    (1 / 10, "a tenth"),
    (1 / 6, "a sixth"),
    (1 / 5, "a fifth"),
    (1 / 4, "a quarter"),
    (1 / 3, "a third"),
    (2 / 5, "two fifths"),
    (1 / 2, "half"),
    (3 / 5, "three fifths"),
    (2 / 3, "two thirds"),
    (3 / 4, "three quarters"),
    (4 / 5, "four fifths"),
    (9 / 10, "nine tenths"),
)


def share_in_words(share: float) -> str:
    """Describe a fraction in words using the :data:`SHARE_WORDS` table.

    Parameters
    ----------
    share : float
        A fraction between 0 and 1.

    Returns
    -------
    str
        Lower-case words such as "over a third" or "nearly a quarter".

    References
    ----------
    Office for National Statistics, *Writing about statistics* (style guide): describe
    proportions with familiar fractions and give the exact figure alongside.

    Examples
    --------
    >>> share_in_words(0.36), share_in_words(0.48), share_in_words(0.5)
    ('over a third', 'nearly half', 'about half')
    >>> share_in_words(0.23), share_in_words(0.05), share_in_words(1.0)
    ('nearly a quarter', 'less than a tenth', 'all')
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share!r}")
    if share == 0.0:
        return "none"
    if share >= 1.0:
        return "all"
    if share > 0.95:
        return "almost all"
    if share < 0.085:
        return "less than a tenth"
    value, words = min(SHARE_WORDS, key=lambda vw: abs(share - vw[0]))
    if abs(share - value) <= 0.01:
        return f"about {words}"
    return f"over {words}" if share > value else f"nearly {words}"


@dataclass(frozen=True)
class Finding:
    """A sentence for the SIA report and the numbers behind it."""

    text: str
    level: str
    theme: str
    category: str | None
    current: int
    baseline: int
    direction: str
    change_pct: float | None
    share_of_theme: float | None
    p_value: float
    q_value: float
    significant: bool
    small_numbers: bool


def findings(
    table: SiaTable,
    *,
    area_name: str,
    period_label: str,
    baseline_label: str,
    min_share: float = 0.1,
) -> list[Finding]:
    """Turn an :class:`SiaTable` into plain-English findings.

    One finding per theme, followed by findings for its categories in decreasing share of
    the theme. A category is described when it makes up at least ``min_share`` of its
    theme or its change is significant; a theme's only category is not repeated.

    Wording rules (tested):

    * "increased"/"decreased" follows the row's ``direction``, the direction of the
      monthly rate (the same comparison as the percentage and the significance test);
    * a significant change says it is statistically significant;
    * a change that is not significant says that it "may be chance variation";
    * a row with small numbers adds "Numbers are small, so treat this change with caution.";
    * shares are given in words from :data:`SHARE_WORDS` with the exact percentage;
    * when the periods have different lengths the percentage is per month on average, and
      the sentence gives both monthly rates before the counts and their months.

    Parameters
    ----------
    table : SiaTable
        From :func:`compare_periods`.
    area_name : str
        E.g. "Redcar & Cleveland".
    period_label, baseline_label : str
        E.g. "2023/24" and "2022/23".
    min_share : float, default 0.1
        Smallest share of its theme for a non-significant category to be described.

    Returns
    -------
    list of Finding

    References
    ----------
    Government Analysis Function (2021). *Communicating quality, uncertainty and change*:
    say when a change is not statistically significant rather than describing it as a
    rise or fall.

    Examples
    --------
    >>> table = compare_periods(
    ...     [CategoryCounts("Vehicle nuisance", "Anti-social behaviour", 893, 620),
    ...      CategoryCounts("Other ASB", "Anti-social behaviour", 1560, 1861)],
    ...     current_months=12, baseline_months=12)
    >>> for f in findings(table, area_name="Redcar & Cleveland",
    ...                   period_label="2023/24", baseline_label="2022/23"):
    ...     print(f.text)
    Anti-social behaviour in Redcar & Cleveland decreased by 1% (2,481 in 2022/23 to 2,453 in 2023/24), but the change is not statistically significant and may be chance variation.
    Nearly two thirds (64%) of all anti-social behaviour in Redcar & Cleveland in 2023/24 was other ASB; the number decreased by 16% (1,861 in 2022/23 to 1,560 in 2023/24), and the change is statistically significant.
    Over a third (36%) of all anti-social behaviour in Redcar & Cleveland in 2023/24 was vehicle nuisance; the number increased by 44% (620 in 2022/23 to 893 in 2023/24), and the change is statistically significant.
    """  # noqa: E501
    words = _Wording(area_name, period_label, baseline_label, table)
    out: list[Finding] = []
    for theme_row in table.themes():
        out.append(_finding(theme_row, words.theme_sentence(theme_row)))
        members = table.categories(theme_row.theme)
        if len(members) < 2:
            continue
        ranked = sorted(members, key=lambda r: -(r.share_of_theme or 0.0))
        for row in ranked:
            if row.significant or (row.share_of_theme or 0.0) >= min_share:
                out.append(_finding(row, words.category_sentence(row)))
    return out


def _finding(row: SiaRow, text: str) -> Finding:
    return Finding(
        text=text,
        level=row.level,
        theme=row.theme,
        category=row.category,
        current=row.current,
        baseline=row.baseline,
        direction=row.direction,
        change_pct=row.change_pct,
        share_of_theme=row.share_of_theme,
        p_value=row.p_value,
        q_value=row.q_value,
        significant=row.significant,
        small_numbers=row.small_numbers,
    )


def _mid_sentence(name: str) -> str:
    """Lower-case the first letter unless the name starts with an acronym ("ASB")."""
    if len(name) > 1 and name[:2].isupper():
        return name
    return name[:1].lower() + name[1:]


def _start_sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pct(value: float) -> str:
    size = abs(value)
    if 0 < size < 0.05:
        return "less than 0.1%"
    return f"{size:.1f}%" if 0 < size < 1 else f"{size:.0f}%"


def _months(n: int) -> str:
    return f"{n} month" if n == 1 else f"{n} months"


def _half_up(value: float, places: int) -> str:
    """``value`` with ``places`` decimals and thousands separators, halves rounded up
    (318.5 is "319", as a reader rounds it, not "318" as binary floats round)."""
    step = Decimal(1).scaleb(-places)
    return f"{Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP):,}"


def _per_month_pair(before: float, now: float) -> tuple[str, str]:
    """Two monthly rates in words, with the fewest decimals (0 to 2; one at least below 10)
    that keep two different rates different on the page."""
    places = 1 if min(before, now) < 10 else 0
    while True:
        a, b = _half_up(before, places), _half_up(now, places)
        if a != b or before == now or places == 2:
            return a, b
        places += 1


@dataclass(frozen=True)
class _Wording:
    area: str
    period: str
    baseline_period: str
    table: SiaTable

    def counts(self, row: SiaRow) -> str:
        t = self.table
        if t.current_months == t.baseline_months:
            return f"{row.baseline:,} in {self.baseline_period} to {row.current:,} in {self.period}"
        return (
            f"{row.baseline:,} in the {_months(t.baseline_months)} of {self.baseline_period}; "
            f"{row.current:,} in the {_months(t.current_months)} of {self.period}"
        )

    def change(self, row: SiaRow) -> str:
        """E.g. "increased by 44% (620 in 2022/23 to 893 in 2023/24)".

        The verb follows ``row.direction``, the direction of the monthly rate; when the
        periods differ in length the sentence gives the two monthly rates, so that a count
        that fell over fewer months is not read as a fall.
        """
        per_month = self.table.current_months != self.table.baseline_months
        if row.current == 0 and row.baseline == 0:
            return f"was zero in both {self.baseline_period} and {self.period}"
        if row.change_pct is None:
            return f"went from none in {self.baseline_period} to {row.current:,} in {self.period}"
        before, now = _per_month_pair(row.baseline_per_month, row.current_per_month)
        if row.direction == NO_CHANGE:
            rate = f" at {now} a month" if per_month else ""
            return f"was unchanged{rate} ({self.counts(row)})"
        verb = "increased" if row.direction == RISE else "decreased"
        if per_month:
            return (
                f"{verb} by {_pct(row.change_pct)} a month on average, from {before} to {now} "
                f"a month ({self.counts(row)})"
            )
        return f"{verb} by {_pct(row.change_pct)} ({self.counts(row)})"

    def verdict(self, row: SiaRow) -> str:
        if row.current == 0 and row.baseline == 0:
            return "."
        if row.significant:
            text = ", and the change is statistically significant."
        else:
            text = ", but the change is not statistically significant and may be chance variation."
        if row.small_numbers:
            text += " Numbers are small, so treat this change with caution."
        return text

    def theme_sentence(self, row: SiaRow) -> str:
        head = f"{_start_sentence(row.theme)} in {self.area} {self.change(row)}"
        verdict = self.verdict(row)
        if verdict.startswith(", and"):
            verdict = ";" + verdict[len(", and") :]
        return head + verdict

    def category_sentence(self, row: SiaRow) -> str:
        name = _mid_sentence(row.category or row.theme)
        theme = _mid_sentence(row.theme)
        if row.share_of_theme is None:
            head = f"{_start_sentence(name)} in {self.area} {self.change(row)}"
        else:
            share = share_in_words(row.share_of_theme)
            head = (
                f"{_start_sentence(share)} ({row.share_of_theme * 100:.0f}%) of all {theme} "
                f"in {self.area} in {self.period} was {name}; the number {self.change(row)}"
            )
        return head + self.verdict(row)
