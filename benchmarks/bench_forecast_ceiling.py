"""How much better than last year's map can any forecast be on these data? (issue 12)

    .venv/bin/python benchmarks/bench_forecast_ceiling.py            # all crime, 250 m
    .venv/bin/python benchmarks/bench_forecast_ceiling.py --all      # and three crime groups

Issue 12 asks for a forecast whose mean PAI at 5% of the area, for all crime in Newcastle
upon Tyne at 250 m cells over the last 12 months of the Northumbria series, is at least 5%
above the better naive map (last month's or last year's). This script measures, on the same
months, cells and scoring as ``bench_forecast.py``, maps that are **allowed to cheat**: they
see months *after* the scored month, which no forecast can. Every forecast uses a subset of
what they use (the months before the scored one), so a target that they miss cannot be met
by a forecast except by luck. The scored month itself is never used, except by the
"perfect map" row, which is the scored month's own counts (the ceiling of the metric).

Rows (the baseline, last year's map, is measured in the same run):

- ``last month``, ``last 12 months``: the two naive maps of the issue.
- ``two-sided mean +-w``: the mean of the ``w`` months either side of the scored month
  (months with data only).
- ``two-sided learned ranker``: scikit-learn ``HistGradientBoostingRegressor`` (Poisson
  loss) on counts of 1, 2, 3 months before and after, means of 3, 6, 12 months before and
  after, the same month a year earlier, the share of the five largest crime types, the
  month of the year; trained on every other test month (leave one month out), so it learns
  how next month relates to past *and* future months without ever seeing the scored month.
- ``rates known exactly``: an estimate of a forecast that knew each cell's true rate for
  the scored month. The scored month's counts are one Poisson draw from those rates; the
  script draws 50 Poisson months from the scored month's counts and finds how much better
  the perfect map does than the rates themselves on such draws (the ratio ``r``); the row is
  the perfect map divided by ``r``. It shows what the metric would allow if every month's
  change, however it arose, could be foreseen.
- ``perfect map``: the scored month's own counts.

``--force-wide`` adds a question about forecasts, not cheats: would the learned ranker do
better if it learned from every cell of the force (six districts, about four times the
rows) instead of Newcastle's alone? Two past-only rankers with the same features (counts
of last month, means of 3, 6 and 12 months, the same month a year earlier, the 8
neighbouring cells' last month and 3- and 12-month means), trained on the 12 months before
each scored month, one on Newcastle's cells and one on every cell of the force with any
crime, both scored on Newcastle's cells.

Prints a table: mean PAI at 5%, the change against the better naive map, and the share of
the perfect map. docs/analytics/forecasting-and-backtest.md reads the result.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tests.analytics.police_points import (  # noqa: E402
    NORTHUMBRIA,
    month_label,
    newcastle_outline,
    newcastle_points,
    read_files,
)

from csp_analytics.forecast import hit_rate, last_months  # noqa: E402
from csp_analytics.hotspots import Grid  # noqa: E402

GROUPS = {
    "all crime": None,
    "burglary": "Burglary",
    "anti-social behaviour": "Anti-social behaviour",
    "violence and sexual offences": "Violence and sexual offences",
}
COVERAGE = 0.05
TARGET = 1.05


class Cube:
    """Counts per calendar month and study-area cell, by crime type; gaps flagged."""

    def __init__(self, cell: float, crime: str | None) -> None:
        p = newcastle_points()
        area = newcastle_outline()
        grid = Grid.covering(area.bounds, cell)
        cells = np.flatnonzero(grid.mask(area).ravel())
        where = grid.cell_index(p.e, p.n)
        self.first = int(p.month.min())
        n_months = int(p.month.max()) - self.first + 1
        self.have = np.zeros(n_months, dtype=bool)
        self.have[np.unique(p.month) - self.first] = True
        self.types = np.unique(p.crime_type)
        by_type = np.zeros((self.types.size, n_months, grid.n_cells))
        for j, kind in enumerate(self.types):
            sel = (p.crime_type == kind) & (where >= 0)
            np.add.at(by_type[j], (p.month[sel] - self.first, where[sel]), 1.0)
        by_type = by_type[:, :, cells]
        if crime is not None:
            by_type = by_type[self.types == crime]
        self.by_type = by_type
        self.total = by_type.sum(axis=0)
        self.n_cells = cells.size
        tests = last_months(np.unique(p.month), int(p.month.max()), 12)
        self.tests = [m - self.first for m in tests]
        self.labels = (month_label(tests[0]), month_label(tests[-1]))

    def mean(self, lo: int, hi: int, skip: int, counts: np.ndarray | None = None) -> np.ndarray:
        """Mean of months ``lo..hi`` with data, never month ``skip``."""
        c = self.total if counts is None else counts
        use = [s for s in range(max(lo, 0), min(hi, c.shape[0] - 1) + 1)]
        use = [s for s in use if self.have[s] and s != skip]
        if not use:
            return np.full(c.shape[1], np.nan)
        return np.asarray(c[use].mean(axis=0))

    def month(self, s: int) -> np.ndarray:
        if 0 <= s < self.total.shape[0] and self.have[s]:
            return np.asarray(self.total[s])
        return np.full(self.n_cells, np.nan)

    def pai(self, scores: np.ndarray, t: int) -> float:
        return hit_rate(np.nan_to_num(scores), self.total[t], COVERAGE) / (
            round(COVERAGE * self.n_cells) / self.n_cells
        )


def last_month(c: Cube, t: int) -> np.ndarray:
    before = [s for s in range(t) if c.have[s]]
    return c.month(before[-1])


def two_sided_features(c: Cube, t: int) -> np.ndarray:
    cols = [c.month(t + o) for o in (-1, -2, -3, 1, 2, 3)]
    for lo, hi in ((3, 0), (6, 0), (12, 0), (0, 3), (0, 6), (0, 12)):
        cols.append(c.mean(t - lo if lo else t + 1, t + hi if hi else t - 1, t))
    cols.append(c.month(t - 12))
    largest = np.argsort(c.by_type.sum(axis=(1, 2)))[::-1][:5]
    if c.by_type.shape[0] > 1:
        base = c.mean(t - 12, t + 12, t)
        with np.errstate(invalid="ignore", divide="ignore"):
            for j in largest:
                cols.append(c.mean(t - 12, t + 12, t, c.by_type[j]) / base)
    cols.append(np.full(c.n_cells, float((c.first + t) % 12)))
    return np.column_stack(cols)


def gradient_boosting(max_iter: int, learning_rate: float) -> Any:
    """The ranker's model (Poisson loss, the same tree settings as RANKER_DEFAULTS)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=max_iter,
        learning_rate=learning_rate,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        random_state=0,
    )


def two_sided_ranker(c: Cube) -> list[float]:
    feats = {t: two_sided_features(c, t) for t in c.tests}
    out = []
    for t in c.tests:
        train = [s for s in c.tests if s != t]
        model = gradient_boosting(max_iter=200, learning_rate=0.05)
        model.fit(np.vstack([feats[s] for s in train]), np.concatenate([c.total[s] for s in train]))
        out.append(c.pai(model.predict(feats[t]), t))
    return out


def known_rates(c: Cube, draws: int, seed: int = 0) -> tuple[list[float], float]:
    rng = np.random.default_rng(seed)
    perfect_sim, rates_sim = [], []
    for t in c.tests:
        rate = c.total[t]
        for _ in range(draws):
            y = rng.poisson(rate).astype(np.float64)
            k = round(COVERAGE * c.n_cells)
            share = k / c.n_cells
            perfect_sim.append(hit_rate(y, y, COVERAGE) / share)
            rates_sim.append(hit_rate(rate, y, COVERAGE) / share)
    ratio = float(np.mean(perfect_sim) / np.mean(rates_sim))
    return [c.pai(c.total[t], t) / ratio for t in c.tests], ratio


def table(name: str, cell: float, draws: int) -> None:
    t0 = time.perf_counter()
    c = Cube(cell, GROUPS[name])
    rows: list[tuple[str, list[float]]] = [
        ("last month (naive)", [c.pai(last_month(c, t), t) for t in c.tests]),
        ("last 12 months (naive, baseline)", [c.pai(c.mean(t - 12, t - 1, t), t) for t in c.tests]),
    ]
    for w in (1, 2, 3, 6, 12):
        cheat = [c.pai(c.mean(t - w, t + w, t), t) for t in c.tests]
        rows.append((f"two-sided mean +-{w} (cheats)", cheat))
    rows.append(("two-sided learned ranker (cheats)", two_sided_ranker(c)))
    rates, ratio = known_rates(c, draws)
    rows.append((f"rates known exactly (perfect / {ratio:.3f})", rates))
    rows.append(("perfect map (the scored month)", [c.pai(c.total[t], t) for t in c.tests]))
    naive = max(float(np.mean(rows[0][1])), float(np.mean(rows[1][1])))
    perfect = float(np.mean(rows[-1][1]))
    print(
        f"\n{name}: Newcastle upon Tyne, {cell:g} m cells ({c.n_cells:,}), test months "
        f"{c.labels[0]} .. {c.labels[1]} ({len(c.tests)}); mean PAI at 5% of the area; "
        f"target {TARGET * naive:.2f} (+5% on the better naive map, {naive:.2f})\n"
    )
    print("| map | mean PAI@5% | min-max over months | vs better naive map | share of perfect |")
    print("|---|---|---|---|---|")
    for label, vals in rows:
        m = float(np.mean(vals))
        print(
            f"| {label} | {m:.2f} | {min(vals):.2f}-{max(vals):.2f} | "
            f"{100 * (m / naive - 1):+.1f}% | {100 * m / perfect:.0f}% |"
        )
    print(f"  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)


def force_wide(cell: float) -> None:
    import shapely
    from scipy.ndimage import uniform_filter

    t0 = time.perf_counter()
    p = read_files(sorted(NORTHUMBRIA.glob("*/*-northumbria-street.csv.gz")))
    grid = Grid.covering((p.e.min(), p.n.min(), p.e.max(), p.n.max()), cell)
    newcastle = grid.mask(newcastle_outline()).ravel()
    first = int(p.month.min())
    n_months = int(p.month.max()) - first + 1
    have = np.zeros(n_months, dtype=bool)
    have[np.unique(p.month) - first] = True
    cube = np.zeros((n_months, grid.n_cells))
    where = grid.cell_index(p.e, p.n)
    np.add.at(cube, (p.month[where >= 0] - first, where[where >= 0]), 1.0)
    # Scored as everywhere else: only the crimes inside Newcastle's outline count.
    inside = shapely.contains_xy(newcastle_outline(), p.e, p.n) & (where >= 0)
    truth = np.zeros((n_months, grid.n_cells))
    np.add.at(truth, (p.month[inside] - first, where[inside]), 1.0)

    def rings(c: np.ndarray) -> np.ndarray:
        square = c.reshape(n_months, *grid.shape)
        box = uniform_filter(square, size=(1, 3, 3), mode="constant") * 9
        return np.asarray((box - square).reshape(n_months, -1))

    force = (cube.sum(axis=0) > 0) | newcastle

    def mean(c: np.ndarray, lo: int, hi: int) -> np.ndarray:
        use = [s for s in range(max(lo, 0), hi + 1) if have[s]]
        return np.asarray(c[use].mean(axis=0)) if use else np.full(c.shape[1], np.nan)

    def last(c: np.ndarray, t: int) -> np.ndarray:
        return np.asarray(c[[s for s in range(t) if have[s]][-1]])

    def features(c: np.ndarray, ring: np.ndarray, t: int, rows: np.ndarray) -> np.ndarray:
        year = c[t - 12] if t >= 12 and have[t - 12] else np.full(grid.n_cells, np.nan)
        cols = [last(c, t), mean(c, t - 3, t - 1), mean(c, t - 6, t - 1)]
        cols += [mean(c, t - 12, t - 1), year, last(ring, t)]
        cols += [mean(ring, t - 3, t - 1), mean(ring, t - 12, t - 1)]
        return np.column_stack([col[rows] for col in cols])

    months = [s for s in range(n_months) if have[s]]
    tests = months[-12:]
    k = round(COVERAGE * int(newcastle.sum()))
    share = k / int(newcastle.sum())
    print(
        f"\nThe learned ranker trained on Newcastle or on the whole force ({cell:g} m, "
        f"{int(newcastle.sum()):,} Newcastle cells, {int(force.sum()):,} force cells with "
        "crime); all crime, scored on the crimes inside Newcastle; past months only\n"
    )
    print("| trained on | mean PAI@5% | vs last year's map |")
    print("|---|---|---|")
    scored = [truth[t][newcastle] for t in tests]
    base = np.mean(
        [
            hit_rate(mean(truth, t - 12, t - 1)[newcastle], y, COVERAGE)
            for t, y in zip(tests, scored)
        ]
    )
    # Newcastle's ranker sees Newcastle's crimes only, as the product's does; the force-wide
    # one learns from (and reads its features from) every crime of the force.
    for label, c, rows in (
        ("Newcastle's cells and crimes", truth, newcastle),
        ("every cell and crime of the force", cube, force),
    ):
        ring = rings(c)
        got = []
        for t, y in zip(tests, scored):
            train = [s for s in months if 3 <= s < t][-12:]
            model = gradient_boosting(max_iter=100, learning_rate=0.1)
            model.fit(
                np.vstack([features(c, ring, s, rows) for s in train]),
                np.concatenate([c[s][rows] for s in train]),
            )
            got.append(hit_rate(model.predict(features(c, ring, t, newcastle)), y, COVERAGE))
        print(f"| {label} | {np.mean(got) / share:.2f} | {100 * (np.mean(got) / base - 1):+.1f}% |")
    print(f"| (last year's map) | {base / share:.2f} | 0 |")
    print(f"  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", type=float, default=250.0)
    parser.add_argument("--all", action="store_true", help="also burglary, ASB and violence")
    parser.add_argument("--draws", type=int, default=50, help="Poisson draws per month")
    parser.add_argument("--force-wide", action="store_true", help="also the force-wide ranker")
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    print(f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores")
    for name in GROUPS if args.all else ["all crime"]:
        table(name, args.cell, args.draws)
    if args.force_wide:
        force_wide(args.cell)


if __name__ == "__main__":
    main()
