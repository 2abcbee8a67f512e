"""Repeat locations, repeat victims and near-repeats (the Knox test).

Distances are metres on the British National Grid (EPSG:27700). Times are integers in
the precision the source has (police.uk: months, e.g. ``year * 12 + month - 1``).

Two limits of police.uk data shape everything here and are repeated in every result:

* Locations are **anonymised snap points** ("On or near ..." map points at street
  centres and named places), not addresses. Many addresses share one snap point, so a
  "repeat location" is a *repeat snap point*, and distances below about 100-200 m are
  blurred.
* Dates are **months**. A near-repeat analysis can only see patterns at the scale of
  months; the days-to-weeks near-repeat effect found for burglary (Johnson & Bowers
  2004; Johnson et al. 2007) falls entirely inside the "same month" band.

References
----------
Knox, E. G. (1964). The detection of space-time interactions. *Journal of the Royal
Statistical Society C (Applied Statistics)* 13(1), 25-30.

Johnson, S. D. & Bowers, K. J. (2004). The burglary as a clue to the future: the
beginnings of prospective hot-spotting. *European Journal of Criminology* 1(2), 237-255.

Johnson, S. D. et al. (2007). Space-time patterns of risk: a cross national assessment
of residential burglary victimization. *Journal of Quantitative Criminology* 23, 201-219.

Ratcliffe, J. H. (2009). *Near Repeat Calculator* (version 1.3). Temple University and
the National Institute of Justice.

Farrell, G. & Pease, K. (1993). *Once bitten, twice bitten: repeat victimisation and its
implications for crime prevention*. Home Office Police Research Group paper 46.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from csp_analytics._arrays import readonly

__all__ = [
    "KnoxResult",
    "NearRepeatTable",
    "RepeatCounts",
    "RepeatLocations",
    "RepeatVictims",
    "knox_test",
    "repeat_locations",
    "repeat_locations_counted",
    "repeat_victims",
]

SNAP_POINT_CAVEAT = (
    "police.uk locations are anonymised snap points (map points at street centres and "
    "named places), not addresses: a 'repeat location' is a repeat snap point, and many "
    "addresses can share one."
)
SNAP_DISTANCE_CAVEAT = (
    "Locations are snapped to anonymised map points, which blurs distances below about "
    "100-200 m; the 'same location' and shortest distance bands are the least reliable."
)
MONTH_CAVEAT = (
    "Times are months (police.uk precision): this can only detect near-repeat patterns "
    "at the scale of months, not the days-to-weeks pattern that near-repeat burglary "
    "research finds; all of that falls inside the 'same month' band."
)


# --------------------------------------------------------------------------------------
# Repeat locations and repeat victims
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatCounts:
    """How concentrated incidents are on the same key (location, victim, caller, ...).

    Attributes
    ----------
    label : str
        What a key is ("snap point", "victim", "caller", ...).
    n_records : int
        All records given, including those without a key.
    n_missing : int
        Records with no key (None, NaN or empty string): excluded from every share.
    n_keys : int
        Distinct keys.
    n_repeat_keys : int
        Keys with at least ``min_count`` records.
    n_at_repeat_keys : int
        Records whose key is a repeat key (including each key's first record).
    min_count : int
    top : tuple of (key, count)
        The most frequent keys, most frequent first, ties by key text.
    distribution : tuple of (count, n_keys)
        How many keys had 1, 2, 3, ... records.
    caveats : tuple of str
        Plain statements about what the figures cannot show.
    """

    label: str
    n_records: int
    n_missing: int
    n_keys: int
    n_repeat_keys: int
    n_at_repeat_keys: int
    min_count: int
    top: tuple[tuple[Hashable, int], ...]
    distribution: tuple[tuple[int, int], ...]
    caveats: tuple[str, ...]

    @property
    def n_identified(self) -> int:
        """Records that have a key."""
        return self.n_records - self.n_missing

    @property
    def share_at_repeat_keys(self) -> float:
        """Share of keyed records that fall on a repeat key (NaN if none keyed)."""
        return self.n_at_repeat_keys / self.n_identified if self.n_identified else math.nan

    @property
    def share_of_keys_repeat(self) -> float:
        """Share of keys that are repeat keys."""
        return self.n_repeat_keys / self.n_keys if self.n_keys else math.nan

    @property
    def share_that_are_repeats(self) -> float:
        """Share of keyed records that are not their key's first (Farrell & Pease)."""
        if not self.n_identified:
            return math.nan
        return (self.n_identified - self.n_keys) / self.n_identified

    @property
    def mean_per_key(self) -> float:
        """Records per key ("concentration")."""
        return self.n_identified / self.n_keys if self.n_keys else math.nan


@dataclass(frozen=True)
class RepeatLocations(RepeatCounts):
    """:class:`RepeatCounts` for location keys (police.uk: snap points)."""


@dataclass(frozen=True)
class RepeatVictims(RepeatCounts):
    """:class:`RepeatCounts` for person or caller identifiers."""


def _is_missing(k: Any) -> bool:
    if k is None:
        return True
    if isinstance(k, float) and math.isnan(k):
        return True
    return isinstance(k, str) and not k.strip()


def _plain(k: Any) -> Hashable:
    """numpy scalars (also inside tuple keys) as plain Python values."""
    if isinstance(k, np.generic):
        return k.item()  # type: ignore[no-any-return]
    if isinstance(k, tuple):
        return tuple(_plain(v) for v in k)
    return k  # type: ignore[no-any-return]


def _count_keys(keys: Iterable[Hashable]) -> tuple[Counter[Hashable], int, int]:
    counts: Counter[Hashable] = Counter()
    n_records = n_missing = 0
    for k in keys:
        n_records += 1
        if _is_missing(k):
            n_missing += 1
        else:
            counts[_plain(k)] += 1
    return counts, n_records, n_missing


def _summarise(keys: Iterable[Hashable], *, top: int, min_count: int, label: str) -> dict[str, Any]:
    if min_count < 2:
        raise ValueError(f"min_count must be at least 2, got {min_count}")
    counts, n_records, n_missing = _count_keys(keys)
    return _summary(counts, n_records, n_missing, top=top, min_count=min_count, label=label)


def _summary(
    counts: Counter[Hashable],
    n_records: int,
    n_missing: int,
    *,
    top: int,
    min_count: int,
    label: str,
) -> dict[str, Any]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    repeat = [c for _, c in ranked if c >= min_count]
    dist = Counter(counts.values())
    return {
        "label": label,
        "n_records": n_records,
        "n_missing": n_missing,
        "n_keys": len(counts),
        "n_repeat_keys": len(repeat),
        "n_at_repeat_keys": int(sum(repeat)),
        "min_count": min_count,
        "top": tuple(ranked[: max(0, top)]),
        "distribution": tuple(sorted(dist.items())),
    }


def repeat_locations(
    location_keys: Iterable[Hashable], *, top: int = 10, min_count: int = 2
) -> RepeatLocations:
    """Count incidents per location key and the share that fall on repeat locations.

    Parameters
    ----------
    location_keys : iterable of hashable
        One key per incident: with police.uk data use the snap point, e.g.
        ``(longitude, latitude)`` or ``"On or near X|lon|lat"``. None, NaN and empty
        strings are missing: excluded and counted in ``n_missing``.
    top : int
        How many of the most frequent locations to list.
    min_count : int
        Incidents needed for a location to count as a repeat location.

    Returns
    -------
    RepeatLocations

    Notes
    -----
    **police.uk snap points are anonymised map points, not addresses.** Every crime is
    moved to the nearest of a fixed set of points (street centres, named places such as
    "Supermarket" or "Parking Area"), so a "repeat location" here means a *repeat snap
    point*: a street or place with several incidents, not necessarily one address hit
    twice. Shares are of incidents that have a key.

    Examples
    --------
    >>> r = repeat_locations(["A", "B", "A", "C", "A", "B", None])
    >>> r.n_keys, r.n_repeat_keys, r.n_at_repeat_keys, r.n_missing
    (3, 2, 5, 1)
    >>> round(r.share_at_repeat_keys, 3), r.top[0]
    (0.833, ('A', 3))
    """
    return RepeatLocations(
        **_summarise(location_keys, top=top, min_count=min_count, label="snap point"),
        caveats=(SNAP_POINT_CAVEAT,),
    )


def repeat_locations_counted(
    counts: Mapping[Hashable, int], *, top: int = 10, min_count: int = 2
) -> RepeatLocations:
    """:func:`repeat_locations` from the number of incidents at each location key, for
    callers whose database has already counted them (each key once; the same result as
    passing every key ``n`` times, without building a million-item list).

    Examples
    --------
    >>> r = repeat_locations_counted({"A": 3, "B": 2, "C": 1, None: 1})
    >>> r.n_keys, r.n_repeat_keys, r.n_at_repeat_keys, r.n_missing, r.n_records
    (3, 2, 5, 1, 7)
    >>> r.top[0]
    ('A', 3)
    """
    if min_count < 2:
        raise ValueError(f"min_count must be at least 2, got {min_count}")
    tally: Counter[Hashable] = Counter()
    n_records = n_missing = 0
    for key, n in counts.items():
        if n < 0:
            raise ValueError(f"a count cannot be negative: {key!r} has {n}")
        n_records += int(n)
        if _is_missing(key):
            n_missing += int(n)
        elif n:
            tally[_plain(key)] += int(n)
    return RepeatLocations(
        **_summary(tally, n_records, n_missing, top=top, min_count=min_count, label="snap point"),
        caveats=(SNAP_POINT_CAVEAT,),
    )


def repeat_victims(
    identifiers: Iterable[Hashable],
    *,
    top: int = 0,
    min_count: int = 2,
    label: str = "victim",
) -> RepeatVictims:
    """Repeat victimisation over any identifier column a source carries.

    Parameters
    ----------
    identifiers : iterable of hashable
        One identifier per incident (victim id, caller id, vehicle registration, ...).
        Missing identifiers (None, NaN, empty) are excluded from the shares and counted
        in ``n_missing``: a high count means the repeat figures are a lower bound.
    top : int
        How many of the most frequent identifiers to list. Default 0, because these are
        personal identifiers: ask for them only where the caller may see them.
    min_count : int
        Incidents needed for an identifier to count as a repeat.
    label : str
        What an identifier is, for reports ("victim", "caller", ...).

    Returns
    -------
    RepeatVictims
        ``share_that_are_repeats`` is the repeat-victimisation rate of Farrell & Pease
        (1993): incidents beyond each victim's first, over all identified incidents.

    Examples
    --------
    >>> r = repeat_victims(["v1", "v2", "v1", "", "v1", "v3"], label="caller")
    >>> r.n_missing, r.n_repeat_keys, r.share_that_are_repeats
    (1, 1, 0.4)
    """
    caveat = (
        f"{label.capitalize()} identifiers are only as good as the source: incidents "
        "without one are excluded, and one person recorded under two identifiers is "
        "counted twice."
    )
    return RepeatVictims(
        **_summarise(identifiers, top=top, min_count=min_count, label=label),
        caveats=(caveat,),
    )


# --------------------------------------------------------------------------------------
# Knox test and near-repeat table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearRepeatTable:
    """Observed and expected pairs per space band x time band.

    Rows are space bands (``space_labels``: "same location", then bands of width
    ``space_threshold_m``); columns are time bands (``time_labels``: bands of
    ``time_threshold + 1`` units starting at 0). Arrays have shape
    ``(len(space_labels), len(time_labels))``.

    ``expected`` is the mean over permutations of the times; ``ratio`` is
    observed / expected (the Knox ratio); ``p_value`` is the one-sided Monte Carlo
    p-value ``(1 + #{sim >= observed}) / (permutations + 1)``.
    """

    space_labels: tuple[str, ...]
    time_labels: tuple[str, ...]
    observed: NDArray[np.int64]
    expected: NDArray[np.float64]
    ratio: NDArray[np.float64]
    p_value: NDArray[np.float64]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per cell, for tables and CSV export."""
        out = []
        for i, s in enumerate(self.space_labels):
            for j, t in enumerate(self.time_labels):
                out.append(
                    {
                        "space": s,
                        "time": t,
                        "observed": int(self.observed[i, j]),
                        "expected": float(self.expected[i, j]),
                        "ratio": float(self.ratio[i, j]),
                        "p_value": float(self.p_value[i, j]),
                    }
                )
        return out


@dataclass(frozen=True)
class KnoxResult:
    """Knox (1964) space-time interaction test with a near-repeat table.

    Attributes
    ----------
    observed : int
        Pairs of events within ``space_threshold_m`` *and* ``time_threshold``.
    expected : float
        Mean of that count when times are permuted among events.
    ratio : float
        ``observed / expected``; above 1 = more close pairs than chance (near-repeats).
    p_value : float
        One-sided Monte Carlo p-value, ``(1 + #{sim >= observed}) / (P + 1)``.
    table : NearRepeatTable
    space_threshold_m, time_threshold, time_unit, permutations, seed
        Parameters used.
    n_events, n_dropped : int
        Events used; events dropped for a missing coordinate or time.
    caveats : tuple of str
        What the data cannot show, e.g. the month-precision and snap-point limits.
    """

    observed: int
    expected: float
    ratio: float
    p_value: float
    table: NearRepeatTable
    space_threshold_m: float
    time_threshold: int
    time_unit: str
    permutations: int
    seed: int | None
    n_events: int
    n_dropped: int
    caveats: tuple[str, ...]


def _labels(
    s: float, n_space: int, tau: int, n_time: int, same_m: float, unit: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    space = [f"same location (<= {same_m:g} m)"]
    space += [f"{(b - 1) * s:g}-{b * s:g} m" for b in range(1, n_space + 1)]
    width = tau + 1
    time = [
        f"{c * width} {unit}s" if width == 1 else f"{c * width}-{(c + 1) * width - 1} {unit}s"
        for c in range(n_time)
    ]
    return tuple(space), tuple(time)


def knox_test(
    e: ArrayLike,
    n: ArrayLike,
    t: ArrayLike,
    *,
    space_threshold_m: float,
    time_threshold: int,
    permutations: int = 999,
    seed: int | None,
    n_space_bands: int = 4,
    n_time_bands: int = 4,
    same_location_m: float = 1.0,
    time_unit: str = "month",
    snapped_locations: bool = True,
) -> KnoxResult:
    """Knox test for near-repeats, with a Near Repeat Calculator style table.

    Parameters
    ----------
    e, n : array_like
        Event easting/northing, EPSG:27700 metres.
    t : array_like of int
        Event times as integers in the source's precision (police.uk: a month number).
    space_threshold_m : float
        "Close in space": distance ``<= space_threshold_m``. Also the width of the
        table's space bands.
    time_threshold : int
        "Close in time": ``|t_i - t_j| <= time_threshold``. The table's time bands are
        ``time_threshold + 1`` units wide. With months, 0 means "same month".
    permutations : int
        Monte Carlo permutations of the times among the events (Johnson et al. 2007):
        keeps where events happen and when, breaks only the link between the two.
    seed : int or None
        Seed for ``numpy.random.default_rng``; required keyword.
    n_space_bands, n_time_bands : int
        Table size: space bands after "same location"; time bands from 0.
    same_location_m : float
        Pairs closer than this count as "same location" (snap points coincide exactly).
    time_unit : str
        Name of the time unit for labels; ``"month"`` adds the month-precision caveat.
    snapped_locations : bool
        Whether locations are anonymised snap points (police.uk); adds that caveat.

    Returns
    -------
    KnoxResult

    Notes
    -----
    Pairs within the largest space band are found with ``scipy.spatial.cKDTree``
    (``query_pairs``), so memory grows with the number of close pairs, not ``n^2``.
    Permutations are processed in batches with ``numpy.bincount``.

    Examples
    --------
    Three events at one point in the same month and one far away:

    >>> r = knox_test([0, 0, 0, 5000], [0, 0, 0, 0], [0, 0, 0, 7], space_threshold_m=100,
    ...               time_threshold=0, permutations=99, seed=1)
    >>> r.observed, r.table.observed[0, 0]
    (3, np.int64(3))
    >>> r.expected < 3
    True
    """
    if space_threshold_m <= 0 or time_threshold < 0:
        raise ValueError("space_threshold_m must be > 0 and time_threshold >= 0")
    ea, na, ti, n_dropped = _clean_events(e, n, t)
    s, tau = float(space_threshold_m), int(time_threshold)
    sb, pi, pj = _close_pairs(ea, na, s, n_space_bands, same_location_m)
    bounds = np.searchsorted(sb, np.arange(n_space_bands + 2)).astype(np.int64)
    observed = _band_table(ti[None, :], bounds, pi, pj, tau, n_time_bands)[0]
    sims = _simulate(ti, sb, pi, pj, tau, n_space_bands, n_time_bands, permutations, seed)
    knox_obs = int(observed[:2, 0].sum())  # <= s (bands 0-1) and |dt| <= tau (band 0)
    knox_sim = sims[:, :2, 0].sum(axis=1)
    labels = _labels(s, n_space_bands, tau, n_time_bands, same_location_m, time_unit)
    table = _near_repeat_table(observed, sims, labels)
    k_exp = float(knox_sim.mean()) if permutations else math.nan
    caveats = []
    if time_unit.startswith("month"):
        caveats.append(MONTH_CAVEAT)
    if snapped_locations:
        caveats.append(SNAP_DISTANCE_CAVEAT)
    return KnoxResult(
        observed=knox_obs,
        expected=k_exp,
        ratio=knox_obs / k_exp if k_exp else math.nan,
        p_value=float((1 + (knox_sim >= knox_obs).sum()) / (permutations + 1)),
        table=table,
        space_threshold_m=s,
        time_threshold=tau,
        time_unit=time_unit,
        permutations=permutations,
        seed=seed,
        n_events=int(ea.size),
        n_dropped=n_dropped,
        caveats=tuple(caveats),
    )


def _clean_events(
    e: ArrayLike, n: ArrayLike, t: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], int]:
    """Copies of the events with a coordinate and a time; the number dropped."""
    ea = np.array(e, dtype=np.float64, copy=True).ravel()
    na = np.array(n, dtype=np.float64, copy=True).ravel()
    ta = np.array(t, dtype=np.float64, copy=True).ravel()
    if not (ea.size == na.size == ta.size):
        raise ValueError("e, n and t must have the same length")
    ok = np.isfinite(ea) & np.isfinite(na) & np.isfinite(ta)
    if np.any(ta[ok] != np.round(ta[ok])):
        raise ValueError("t must be whole numbers in the source's time precision")
    return ea[ok], na[ok], ta[ok].astype(np.int64), int((~ok).sum())


def _near_repeat_table(
    observed: NDArray[np.int64],
    sims: NDArray[np.int64],
    labels: tuple[tuple[str, ...], tuple[str, ...]],
) -> NearRepeatTable:
    permutations = sims.shape[0]
    expected = sims.mean(axis=0) if permutations else np.full(observed.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = observed / expected
    p_table = (1.0 + (sims >= observed[None]).sum(axis=0)) / (permutations + 1.0)
    return NearRepeatTable(
        space_labels=labels[0],
        time_labels=labels[1],
        observed=readonly(observed.astype(np.int64)),
        expected=readonly(np.asarray(expected, dtype=np.float64)),
        ratio=readonly(np.asarray(ratio, dtype=np.float64)),
        p_value=readonly(np.asarray(p_table, dtype=np.float64)),
    )


def _close_pairs(
    e: NDArray[np.float64], n: NDArray[np.float64], s: float, n_space: int, same_m: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Space band of every pair within ``n_space * s`` metres, and the pair indices."""
    if e.size < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    tree = cKDTree(np.column_stack([e, n]))
    pairs = np.asarray(tree.query_pairs(r=n_space * s, output_type="ndarray"), dtype=np.int64)
    pi, pj = pairs[:, 0], pairs[:, 1]
    d = np.hypot(e[pi] - e[pj], n[pi] - n[pj])
    band = np.where(d <= same_m, 0, np.ceil(d / s)).astype(np.int64)
    keep = np.flatnonzero(band <= n_space)  # guards the rounding at the outer radius
    order = keep[np.argsort(band[keep], kind="stable")]  # contiguous slices per band
    return band[order], pi[order], pj[order]


def _band_table(
    times: NDArray[np.integer[Any]],
    bounds: NDArray[np.int64],
    pi: NDArray[np.int64],
    pj: NDArray[np.int64],
    tau: int,
    n_time: int,
) -> NDArray[np.int64]:
    """Tables ``(batch, n_space + 1, n_time)`` for a batch of time vectors ``(batch, n)``.

    Pairs are sorted by space band, band ``s`` being ``bounds[s]:bounds[s + 1]``. For
    each band and time band the count is a ``count_nonzero`` over a contiguous slice;
    this avoids ``bincount``, which slows down badly when most pairs hit one counter.
    Times are small integers (int8 for up to 127 months), so a batch of 100 permutations
    of 500,000 pairs is 50 MB.
    """
    batch = times.shape[0]
    n_space1 = bounds.size - 1
    d = times[:, pi]
    np.subtract(d, times[:, pj], out=d)
    np.abs(d, out=d)
    if tau > 0:
        np.floor_divide(d, tau + 1, out=d)
    out = np.zeros((batch, n_space1, n_time), dtype=np.int64)
    for s in range(n_space1):
        seg = d[:, bounds[s] : bounds[s + 1]]
        for c in range(n_time):
            # a uint8 row sum is several times faster than count_nonzero(axis=1)
            out[:, s, c] = (seg == c).view(np.uint8).sum(axis=1, dtype=np.int64)
    return out


def _simulate(
    ti: NDArray[np.int64],
    sb: NDArray[np.int64],
    pi: NDArray[np.int64],
    pj: NDArray[np.int64],
    tau: int,
    n_space: int,
    n_time: int,
    permutations: int,
    seed: int | None,
) -> NDArray[np.int64]:
    """Band tables for ``permutations`` random permutations of the times."""
    rng = np.random.default_rng(seed)
    out = np.zeros((permutations, n_space + 1, n_time), dtype=np.int64)
    batch = max(1, min(permutations, 128, 64_000_000 // max(1, pi.size + ti.size)))
    small = _compact_times(ti)
    bounds = np.searchsorted(sb, np.arange(n_space + 2)).astype(np.int64)
    for lo in range(0, permutations, batch):
        b = min(batch, permutations - lo)
        perm = rng.permuted(np.tile(small, (b, 1)), axis=1)
        out[lo : lo + b] = _band_table(perm, bounds, pi, pj, tau, n_time)
    return out


def _compact_times(ti: NDArray[np.int64]) -> NDArray[np.integer[Any]]:
    """Times shifted to start at 0, in the smallest integer type that holds them."""
    if ti.size == 0:
        return ti
    shifted: NDArray[np.int64] = ti - ti.min()
    span = int(shifted.max())
    for dtype in (np.int8, np.int16, np.int32):
        if span <= np.iinfo(dtype).max:
            small: NDArray[np.integer[Any]] = shifted.astype(dtype)
            return small
    return shifted
