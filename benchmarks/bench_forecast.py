"""Forecast accuracy against open_cp, and forecast speed, on the real Northumbria series.

    .venv/bin/python benchmarks/bench_forecast.py                       # our methods only
    .venv/bin/python benchmarks/bench_forecast.py --opencp PATH         # and open_cp beside them
    .venv/bin/python benchmarks/bench_forecast.py --speed-only          # just the timings

**Accuracy.** A rolling-origin backtest for Newcastle upon Tyne (E08000021, 2011 outline)
at ``--cell`` metres (default 250): the last ``--months`` months with data (default 12:
2021-06 .. 2022-06, the 2022-01 gap excluded) are each forecast from the months before it
by every method of :mod:`csp_analytics.forecast`, and scored by PAI at 5% of the area,
for all crime, burglary, anti-social behaviour and violence and sexual offences. The
table gives each method's mean PAI@5% and its gain over the better of the two naive
baselines (last month's map, last year's map).

**open_cp (optional).** The prospective hot-spot method of open_cp (QuantCrimAtLeeds/
PredictCode, ``open_cp.prohotspot.ProspectiveHotSpot``), run on the same months and cells.
It needs the old NumPy it was written for, so it never runs in our environment: give a
checkout of PredictCode with ``--opencp PATH`` (``git clone
https://github.com/QuantCrimAtLeeds/PredictCode``) and this script creates a separate
virtual environment (``--opencp-venv``, default ``/tmp/csp-opencp-venv``), pip-installs
``numpy<1.24`` and the checkout into it, and runs open_cp there as a subprocess, one
process per category, exchanging plain ``.npz`` arrays. Nothing of open_cp is imported
here or copied into this repository. Without ``--opencp`` the open_cp column says "not
run" and everything else still runs.

open_cp settings: its ``ClassicWeight`` ``1/(1+d) * 1/(1+t)`` with its default grid
distance (``DistanceDiagonalsSame``); time in whole months (incidents placed on the 15th
of their month, forecasts made at the 1st of the next, time unit 30.44 days, so last
month is ``t = 0``). Three (space, time) bandwidths are run: open_cp's default
8 cells x 8 units, 4 x 4 and 2 x 12; the table shows each and the best of the three
(chosen on the test months themselves, which favours open_cp).

**Speed.** One forecast by each method for Newcastle, all crime, 2020-05 .. 2022-06
(about 104,000 incidents), at 250 m; and one 12-month backtest of all methods. The goal
(issue 12) is under 2 s for a forecast and under 60 s for the backtest on the 2-core
machine. The baseline measured in the same run is the naive last-year map, and the load
average is printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.analytics.police_points import (  # noqa: E402
    month_label,
    newcastle_outline,
    newcastle_points,
)

from csp_analytics.forecast import (  # noqa: E402
    METHODS,
    backtest,
    forecast,
    last_months,
)
from csp_analytics.hotspots import Grid  # noqa: E402

CATEGORIES = {
    "all crime": None,
    "burglary": "Burglary",
    "anti-social behaviour": "Anti-social behaviour",
    "violence and sexual offences": "Violence and sexual offences",
}
OPENCP_SETTINGS = ((8, 8), (4, 4), (2, 12))

RUNNER = textwrap.dedent(
    '''
    """Runs open_cp's ProspectiveHotSpot (in its own venv). Written by bench_forecast.py."""
    import sys
    import numpy as np
    import open_cp.data
    import open_cp.prohotspot

    src = np.load(sys.argv[1])
    x, y, month = src["x"], src["y"], src["month"]
    x0, y0, size, nx, ny = (float(v) for v in src["grid"])
    region = open_cp.data.RectangularRegion(x0, x0 + nx * size, y0, y0 + ny * size)
    unit = np.timedelta64(2629746, "s")  # 30.436875 days

    def stamp(m):
        years, months = np.divmod(np.asarray(m, dtype=np.int64), 12)
        first = np.array([f"{a:04d}-{b + 1:02d}-01" for a, b in zip(years, months)],
                         dtype="datetime64[s]")
        return first

    out = {}
    order = np.argsort(month, kind="stable")
    x, y, month = x[order], y[order], month[order]
    times = stamp(month) + np.timedelta64(14, "D")  # the 15th of the month
    for target in src["targets"]:
        predict = stamp([target])[0]
        for sb, tb in src["settings"]:
            # Only incidents within the time bandwidth can have weight: passing just those
            # gives the same prediction, faster.
            keep = (month < target) & (month >= target - tb - 1)
            pts = open_cp.data.TimedPoints.from_coords(times[keep], x[keep], y[keep])
            model = open_cp.prohotspot.ProspectiveHotSpot(region=region, grid_size=size,
                                                          time_unit=unit)
            model.weight = open_cp.prohotspot.ClassicWeight(space_bandwidth=sb,
                                                            time_bandwidth=tb)
            model.data = pts
            pred = model.predict(predict - np.timedelta64(1, "s"), predict)
            out[f"{int(target)}_{int(sb)}_{int(tb)}"] = np.asarray(pred.intensity_matrix)
    np.savez(sys.argv[2], **out)
    print("open_cp", open_cp.__version__, "numpy", np.__version__)
    '''
)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def opencp_venv(checkout: Path, venv: Path) -> Path:
    """A virtual environment with open_cp and the old NumPy it needs; its python."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} for open_cp ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run(
        [str(python), "-c", "import open_cp, numpy; print(numpy.__version__)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "numpy<1.24", "setuptools", "wheel"], check=True)
        subprocess.run([*pip, "--no-deps", "--no-build-isolation", str(checkout)], check=True)
    return python


def run_opencp(
    python: Path, pts: Any, grid: Grid, mask_flat: np.ndarray, targets: list[int]
) -> dict[tuple[int, int, int], np.ndarray]:
    """open_cp scores of the mask cells for each (target month, space bw, time bw)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst, runner = Path(tmp, "in.npz"), Path(tmp, "out.npz"), Path(tmp, "run.py")
        runner.write_text(RUNNER)
        np.savez(
            src,
            x=pts.e,
            y=pts.n,
            month=pts.month,
            grid=np.array([grid.x0, grid.y0, grid.size, grid.nx, grid.ny], dtype=float),
            targets=np.array(targets),
            settings=np.array(OPENCP_SETTINGS),
        )
        done = subprocess.run(
            [str(python), str(runner), str(src), str(dst)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"open_cp failed:\n{done.stderr}")
        got = np.load(dst)
        out = {}
        for key in got.files:
            t, sb, tb = (int(v) for v in key.split("_"))
            out[t, sb, tb] = np.asarray(got[key]).ravel()[mask_flat]
        return out


def accuracy(cell: float, n_months: int, python: Path | None) -> None:
    from csp_analytics.forecast import hit_rate

    p = newcastle_points()
    area = newcastle_outline()
    grid = Grid.covering(area.bounds, cell)
    mask = grid.mask(area)
    flat = np.flatnonzero(mask.ravel())
    months = last_months(np.unique(p.month), int(p.month.max()), n_months)
    print(
        f"\nNewcastle upon Tyne (E08000021), {cell:g} m cells ({flat.size:,} in the area), "
        f"test months {month_label(months[0])} .. {month_label(months[-1])} "
        f"({len(months)} months with data); mean PAI at 5% of the area\n"
    )
    head = ["category", *METHODS, "open_cp (8x8 / 4x4 / 2x12)", "best new vs best naive"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, crime in CATEGORIES.items():
        q = p if crime is None else p.select(p.crime_type == crime)
        t0 = time.perf_counter()
        bt = backtest(q.e, q.n, q.month, grid, months=months, mask=mask, category=q.crime_type)
        took = time.perf_counter() - t0
        pai = bt.mean_pai()[:, bt.coverages.index(0.05)]
        naive = max(pai[bt.methods.index(m)] for m in ("last_month", "last_12_months"))
        new = max(("ranker", "sepp"), key=lambda m: pai[bt.methods.index(m)])
        gain = pai[bt.methods.index(new)] / naive - 1
        ocp = "not run"
        if python is not None:
            scores = run_opencp(python, q, grid, flat, list(bt.months))
            per = []
            for sb, tb in OPENCP_SETTINGS:
                vals = []
                for t in bt.months:
                    sel = (q.month == t) & (grid.cell_index(q.e, q.n) >= 0)
                    truth = np.bincount(
                        grid.cell_index(q.e[sel], q.n[sel]), minlength=grid.n_cells
                    )[flat]
                    vals.append(hit_rate(scores[t, sb, tb], truth, 0.05) / bt.area_share[1])
                per.append(float(np.mean(vals)))
            ocp = " / ".join(f"{v:.2f}" for v in per) + f" (best {max(per):.2f})"
        cells = [f"{v:.2f}" for v in pai]
        print(
            f"| {name} | " + " | ".join(cells) + f" | {ocp} | {new} {100 * gain:+.1f}% |",
            flush=True,
        )
        print(f"  ({took:.1f} s for the backtest of {len(bt.methods)} methods)", file=sys.stderr)


def timed(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(repeat: int) -> None:
    p = newcastle_points()
    area = newcastle_outline()
    grid = Grid.covering(area.bounds, 250.0)
    mask = grid.mask(area)
    through = int(p.month.max())
    months = last_months(np.unique(p.month), through, 12)
    print(f"\nSpeed: {p.e.size:,} incidents (Newcastle, all crime), 250 m; {load_average()}")
    print(f"| task | seconds (best of {repeat}) | goal | x baseline |")
    print("|---|---|---|---|")
    base = timed(
        lambda: forecast(
            p.e, p.n, p.month, grid, through=through, method="last_12_months", mask=mask
        ),
        repeat,
    )
    print(f"| forecast last_12_months (baseline) | {base:.3f} | | 1.0 |")
    for method in METHODS:
        if method == "last_12_months":
            continue
        s = timed(
            lambda m=method: forecast(
                p.e,
                p.n,
                p.month,
                grid,
                through=through,
                method=m,
                mask=mask,
                category=p.crime_type,
            ),
            repeat,
        )
        print(f"| forecast {method} | {s:.3f} | < 2 s | {s / base:.0f} |", flush=True)
    s = timed(
        lambda: backtest(p.e, p.n, p.month, grid, months=months, mask=mask, category=p.crime_type),
        1,
    )
    print(
        f"| backtest, {len(METHODS)} methods x {len(months)} months | {s:.1f} | < 60 s | "
        f"{s / base:.0f} |"
    )
    print(f"(after: {load_average()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opencp", type=Path, help="a checkout of QuantCrimAtLeeds/PredictCode")
    parser.add_argument("--opencp-venv", type=Path, default=Path("/tmp/csp-opencp-venv"))
    parser.add_argument("--cell", type=float, default=250.0)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--accuracy-only", action="store_true")
    args = parser.parse_args()
    python = None
    if args.opencp is not None:
        if not (args.opencp / "open_cp" / "prohotspot.py").is_file():
            parser.error(f"{args.opencp} is not a PredictCode checkout (no open_cp/prohotspot.py)")
        python = opencp_venv(args.opencp.resolve(), args.opencp_venv)
    print(load_average())
    if not args.speed_only:
        accuracy(args.cell, args.months, python)
    if not args.accuracy_only:
        speed(args.repeat)


if __name__ == "__main__":
    main()
