"""Generate a data.police.uk street-level CSV of N rows, calibrated on real files.

    .venv/bin/python benchmarks/generate_police_uk.py --rows 5000000 --out /tmp/x.csv

Calibration (default: the 25 real Northumbria months under ``$CSP_SHARED/data/police/
northumbria``). For each generated month a real "template" month of the same calendar month
is chosen (cycling through the years available), so the monthly volumes keep the real
seasonality. Each generated row then takes

* its crime type and last outcome from a real row of the template month (so the mix of crime
  types, and of outcomes per crime type, follows that month), and
* its snap point, location text and LSOA code/name, verbatim, from a real row of the same
  crime type in any month (so each crime type keeps its own geography, including the rows
  with no location).

Crime IDs are fresh 64-hex strings, blank for anti-social behaviour (as police.uk publishes
it); "Reported by"/"Falls within" are the real force's; Context is blank. Rows are written
month by month, in chunks (``--chunk`` rows at a time), so memory does not grow with N. The
same ``--seed`` and arguments give the same file. Output goes to ``--out`` (``.csv`` or
``.csv.gz``), never into the repository.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CSP_SHARED", REPO.parent / "shared")).resolve()
DEFAULT_REAL = SHARED / "data" / "police" / "northumbria"
COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip
LOCATION_COLUMNS = ("Longitude", "Latitude", "Location", "LSOA code", "LSOA name")
ASB = "Anti-social behaviour"


@dataclass
class Calibration:
    """The real rows (a few hundred thousand, held once) and the indexes used to resample."""

    files: list[Path]
    real: pl.DataFrame  # all-string, in file order, plus "__type" (crime type code)
    months: list[str]  # real months, sorted
    month_rows: dict[str, np.ndarray]  # real month -> row indexes
    by_type: np.ndarray  # row indexes sorted by crime type
    type_start: np.ndarray  # first position in by_type for each crime type code
    type_count: np.ndarray
    force: str
    reported_by: str

    def describe(self) -> str:
        real = self.real
        n = real.height
        asb = int((real["Crime type"] == ASB).sum())
        located = real.filter(pl.col("Longitude").is_not_null())
        points = located.select("Longitude", "Latitude").unique().height
        volumes = [len(self.month_rows[m]) for m in self.months]
        lines = [
            f"calibrated on {len(self.files)} file(s), {n:,} rows, "
            f"{len(self.months)} months {self.months[0]} to {self.months[-1]} ({self.force})",
            f"  rows per month: min {min(volumes):,}, median {int(np.median(volumes)):,}, "
            f"max {max(volumes):,}",
            f"  {real['Crime type'].n_unique()} crime types; anti-social behaviour {asb / n:.1%} "
            "(no Crime ID)",
            f"  {points:,} distinct snap points, {real['Location'].n_unique():,} location texts, "
            f"{real['LSOA code'].drop_nulls().n_unique():,} LSOAs; "
            f"{n - located.height:,} rows without a location",
            f"  {real['Last outcome category'].drop_nulls().n_unique()} outcome categories",
        ]
        return "\n".join(lines)


def real_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*")
                          if p.name.endswith(("-street.csv", "-street.csv.gz")))
        else:
            out.append(path)
    if not out:
        raise SystemExit(f"no police.uk street-level files under {', '.join(map(str, paths))}")
    return out


def calibrate(paths: list[Path]) -> Calibration:
    files = real_files(paths)
    real = pl.concat(
        [pl.read_csv(f, infer_schema=False).select(COLUMNS) for f in files], how="vertical"
    )
    types = sorted(real["Crime type"].unique().to_list())
    codes = real["Crime type"].replace_strict(types, list(range(len(types))),
                                              return_dtype=pl.Int32).to_numpy()
    real = real.with_columns(pl.Series("__type", codes))
    by_type = np.argsort(codes, kind="stable")
    type_count = np.bincount(codes, minlength=len(types))
    type_start = np.concatenate([[0], np.cumsum(type_count)[:-1]])
    month_col = real["Month"].to_numpy()
    months = sorted(set(month_col.tolist()))
    month_rows = {m: np.flatnonzero(month_col == m) for m in months}
    return Calibration(
        files=files, real=real, months=months, month_rows=month_rows, by_type=by_type,
        type_start=type_start, type_count=type_count,
        force=real["Falls within"].mode().sort()[0],
        reported_by=real["Reported by"].mode().sort()[0],
    )


def month_range(start: str, count: int) -> list[str]:
    year, month = (int(x) for x in start.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def templates(cal: Calibration, months: list[str]) -> list[str]:
    """For each generated month, a real month of the same calendar month (cycling years)."""
    by_calendar: dict[str, list[str]] = {}
    for m in cal.months:
        by_calendar.setdefault(m[5:], []).append(m)
    out = []
    for m in months:
        same = by_calendar.get(m[5:]) or cal.months  # a calendar month missing: any month
        out.append(same[int(m[:4]) % len(same)])
    return out


def crime_ids(rng: np.random.Generator, n: int) -> list[str]:
    hexed = rng.bytes(32 * n).hex()
    return [hexed[i : i + 64] for i in range(0, 64 * n, 64)]


def chunks(cal: Calibration, rows: int, months: list[str], chunk: int,
           rng: np.random.Generator) -> Iterator[pl.DataFrame]:
    template = templates(cal, months)
    weights = np.array([len(cal.month_rows[t]) for t in template], dtype=float)
    per_month = rng.multinomial(rows, weights / weights.sum())
    real = cal.real
    type_code = real["__type"].to_numpy()
    for month, real_month, n_month in zip(months, template, per_month, strict=True):
        pool = cal.month_rows[real_month]
        done = 0
        while done < n_month:
            n = int(min(chunk, n_month - done))
            done += n
            first = pool[rng.integers(0, len(pool), n)]  # crime type and outcome
            types = type_code[first]
            pick = cal.type_start[types] + (rng.random(n) * cal.type_count[types]).astype(np.int64)
            where = cal.by_type[pick]  # a real row of the same crime type: its location
            kind = real["Crime type"].gather(first)
            ids = pl.Series("Crime ID", crime_ids(rng, n), dtype=pl.String)
            yield pl.DataFrame({
                "Crime ID": ids.zip_with(kind != ASB, pl.Series([None] * n, dtype=pl.String)),
                "Month": pl.Series([month] * n, dtype=pl.String),
                "Reported by": pl.Series([cal.reported_by] * n, dtype=pl.String),
                "Falls within": pl.Series([cal.force] * n, dtype=pl.String),
                **{c: real[c].gather(where) for c in LOCATION_COLUMNS},
                "Crime type": kind,
                "Last outcome category": real["Last outcome category"].gather(first),
                "Context": pl.Series([None] * n, dtype=pl.String),
            })


def generate(cal: Calibration, out: Path, *, rows: int, start: str, n_months: int, seed: int,
             chunk: int) -> int:
    rng = np.random.default_rng(seed)
    months = month_range(start, n_months)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    opener = gzip.open if out.name.endswith(".gz") else open
    written = 0
    with opener(tmp, "wb") as fh:  # type: ignore[operator]
        fh.write((",".join(COLUMNS) + "\n").encode())
        for frame in chunks(cal, rows, months, chunk, rng):
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=False, quote_style="necessary",
                            null_value="")
            fh.write(buffer.getvalue())
            written += frame.height
    tmp.replace(out)
    return written


def inside_repo(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows to write (5,000,000)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output .csv or .csv.gz (default /tmp/csp-bench/"
                        "police-uk-street-<rows>.csv); never inside the repository")
    parser.add_argument("--real", type=Path, nargs="+", default=[DEFAULT_REAL],
                        help=f"real street-level files or folders to calibrate on ({DEFAULT_REAL})")
    parser.add_argument("--start", default="2018-01", help="first month, YYYY-MM (2018-01)")
    parser.add_argument("--months", type=int, default=60, help="months to spread over (60)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--chunk", type=int, default=250_000, help="rows per write (250,000)")
    args = parser.parse_args(argv)
    out = args.out or Path(f"/tmp/csp-bench/police-uk-street-{args.rows}.csv")
    if inside_repo(out):
        parser.error(f"{out} is inside the repository; write generated data under /tmp")
    if args.rows < 0 or args.months < 1 or args.chunk < 1:
        parser.error("--rows must be >= 0, --months and --chunk >= 1")

    t0 = time.perf_counter()
    cal = calibrate(args.real)
    print(cal.describe(), file=sys.stderr)
    t1 = time.perf_counter()
    written = generate(cal, out, rows=args.rows, start=args.start, n_months=args.months,
                       seed=args.seed, chunk=args.chunk)
    t2 = time.perf_counter()
    last = month_range(args.start, args.months)[-1]
    print(f"wrote {written:,} rows, months {args.start} to {last}, seed {args.seed}, to {out} "
          f"({out.stat().st_size / 1e6:,.0f} MB) in {t2 - t1:.1f} s "
          f"(calibration {t1 - t0:.1f} s)", file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
