"""Import throughput, end to end, against a bare CSV parse measured in the same run.

    .venv/bin/python benchmarks/bench_import.py                  # real + generated, both DBs
    .venv/bin/python benchmarks/bench_import.py --quick          # real Northumbria data only
    .venv/bin/python benchmarks/bench_import.py --rows 1000000 --skip-postgres

Datasets: the real Northumbria street-level series (25 monthly .csv.gz files, ~400,000 rows)
and one generated file of ``--rows`` rows (benchmarks/generate_police_uk.py, calibrated on the
real series, written under the work directory in /tmp).

For each dataset and database (SQLite in a fresh temporary ``CSP_VAR_DIR``; PostgreSQL in a
throwaway cluster started with scripts/pg_throwaway.sh on its own port, fresh per dataset):
``csp migrate``, import the Northumbria wards and LSOAs (so point-in-polygon runs), then time
``csp import-incidents --format police-uk FILES`` as a subprocess, end to end (interpreter and
Django start-up included), and a second, idempotent import of the same files. Peak RSS is the
child's own ``ru_maxrss`` from ``os.wait4`` (the PostgreSQL server's memory is not included).

Baselines, each in its own subprocess: a bare parse of the same files by polars
(``pl.read_csv``, all columns as strings) and by DuckDB (``read_csv(all_varchar=true)`` into an
in-memory table). Their seconds are the parse alone (the interpreter start-up and the library
import are excluded, which favours the baseline). The ratio column is seconds divided by the
fastest bare parse of the same dataset.

A third, smaller generated file (a tenth of ``--rows``, same shape) is imported once on each
database to see whether peak memory and rows/s change with the size of the input.

Targets (from the issue): >= 100,000 rows/s end to end on both databases; no slower than 10x
the bare parse; memory bounded by a constant (the peak RSS of the two generated files).

An import still running after ``--timeout`` seconds is killed (the import is all-or-nothing, so
nothing is left behind) and reported as a lower bound on its time; its re-import is skipped.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CSP_SHARED", REPO.parent / "shared")).resolve()
PY = sys.executable
CSP = str(Path(PY).with_name("csp")) if Path(PY).with_name("csp").exists() else "csp"
PG_SCRIPT = REPO / "scripts" / "pg_throwaway.sh"
WARDS = ["E06000057", "E08000021", "E08000022", "E08000023", "E08000024", "E08000037"]
LSOAS = ["E06000048", "E08000020", "E08000021", "E08000022", "E08000023", "E08000024"]
TARGET_RATE = 100_000
TARGET_RATIO = 10.0
PROBE_MIN_ROWS = 300_000  # ~64 MB of generated CSV: two of the importer's 32 MB read blocks

POLARS_PARSE = """
import json, sys, time
import polars as pl
files = sys.argv[1:]
t0 = time.perf_counter()
rows = 0
for f in files:
    rows += pl.read_csv(f, infer_schema=False).height
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0}))
"""
DUCKDB_PARSE = """
import json, sys, time
import duckdb
files = sys.argv[1:]
con = duckdb.connect()
listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
t0 = time.perf_counter()
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv({listed}, all_varchar = true, "
            "header = true)")
rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0}))
"""


@dataclass
class Child:
    seconds: float
    rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    load: float = 0.0


@dataclass
class Row:
    dataset: str
    engine: str  # database or reader
    run: str  # import, re-import, parse
    rows: int
    seconds: float | None
    rss_mb: float | None
    status: str = "ok"  # ok, timeout, failed, skipped
    note: str = ""
    is_import: bool = True
    load: float = 0.0  # 1-minute load average when the run ended

    @property
    def rate(self) -> float | None:
        return self.rows / self.seconds if self.seconds and self.status == "ok" else None


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_child(cmd: list[str], env: dict[str, str], timeout: float | None = None) -> Child:
    """Run a command; wall time and the child's own peak RSS (os.wait4), killed at timeout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, start_new_session=True,
                                cwd=REPO)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C, SIGTERM: do not leave the child running
            kill()
            os.waitpid(proc.pid, 0)
            proc.returncode = -9
            raise
        finally:
            if timer:
                timer.cancel()
        seconds = time.perf_counter() - t0
        load = os.getloadavg()[0]
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(seconds=seconds, rss_mb=usage.ru_maxrss / 1024, returncode=proc.returncode,
                     stdout=out.read().decode(errors="replace"),
                     stderr=err.read().decode(errors="replace"), timed_out=killed.is_set(),
                     load=load)


def check(child: Child, what: str) -> Child:
    if child.returncode != 0 and not child.timed_out:
        raise SystemExit(f"{what} failed ({child.returncode}):\n{child.stdout}\n{child.stderr}")
    return child


# --------------------------------------------------------------------------------------
# Databases


class Database(Protocol):
    """A database the benchmark can create afresh; SQLite and PostgreSQL implement it."""

    name: str

    def env(self) -> dict[str, str]: ...

    def fresh(self) -> None: ...

    def close(self) -> None:
        pass

    def version(self) -> str:
        return ""


class SQLite(Database):
    name = "SQLite"

    def __init__(self, work: Path) -> None:
        self.work = work
        self.var: Path | None = None

    def fresh(self) -> None:
        self.close()
        self.var = Path(tempfile.mkdtemp(prefix="sqlite-", dir=self.work))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["CSP_VAR_DIR"] = str(self.var)
        return env

    def close(self) -> None:
        if self.var:
            shutil.rmtree(self.var, ignore_errors=True)
            self.var = None

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)"


class PostgreSQL(Database):
    name = "PostgreSQL"

    def __init__(self, port: int, work: Path) -> None:
        self.pg_env = {**os.environ, "CSP_TEST_PG_PORT": str(port),
                       "CSP_TEST_PG_DIR": f"/tmp/csp-bench-pg-{port}"}
        self.url = ""
        self.running = False

    def _script(self, action: str) -> str:
        done = subprocess.run([str(PG_SCRIPT), action], env=self.pg_env, capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"pg_throwaway.sh {action} failed:\n{done.stderr}")
        return done.stdout.strip()

    def fresh(self) -> None:
        self.close()
        self.running = True
        self.url = self._script("start").splitlines()[-1]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "CSP_VAR_DIR"}
        env["DATABASE_URL"] = self.url
        return env

    def close(self) -> None:
        if self.running:
            self._script("stop")
            self.running = False

    def version(self) -> str:
        pgbin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not pgbin:
            return "PostgreSQL"
        done = subprocess.run([str(pgbin[-1] / "postgres"), "--version"], capture_output=True,
                              text=True, check=False)
        return done.stdout.strip() + " (fsync=on, default settings)"


def prepare(db: Database, boundaries: Path) -> None:
    db.fresh()
    env = db.env()
    check(run_child([CSP, "migrate", "-v0"], env), f"{db.name}: csp migrate")
    wards = [str(boundaries / "wards_2013" / f"{c}.geojson") for c in WARDS]
    lsoas = [str(boundaries / "lsoa_2011" / f"{c}.geojson") for c in LSOAS]
    check(run_child([CSP, "import-areas", "--level", "ward", *wards], env), "import wards")
    check(run_child([CSP, "import-areas", "--level", "lsoa", *lsoas], env), "import LSOAs")


SUMMARY = re.compile(r"(\d+) rows read: added (\d+) new, (\d+) already stored")


def import_once(db: Database, dataset: str, run: str, files: list[str], rows: int,
                timeout: float | None) -> Row:
    log(f"{dataset} / {db.name}: {run} ...")
    child = run_child([CSP, "import-incidents", "--format", "police-uk", *files], db.env(),
                      timeout)
    if child.timed_out:
        log(f"  killed after {child.seconds:.0f} s (--timeout)")
        return Row(dataset, db.name, run, rows, child.seconds, child.rss_mb, status="timeout",
                   note=f"killed at --timeout {timeout:.0f} s", load=child.load)
    check(child, f"{dataset} / {db.name}: import-incidents")
    found = SUMMARY.search(child.stdout)
    note = ""
    if not found:
        note = "no summary line"
    else:
        read, new, stored = (int(x) for x in found.groups())
        expected_new = 0 if run == "re-import" else rows
        if read != rows or new != expected_new:
            note = f"read {read:,}, added {new:,}, already stored {stored:,}"
    row = Row(dataset, db.name, run, rows, child.seconds, child.rss_mb, note=note,
              load=child.load)
    log(f"  {row.seconds:.1f} s, {row.rate:,.0f} rows/s, peak RSS {row.rss_mb:,.0f} MB "
        f"{note}".rstrip())
    return row


def parse_once(reader: str, code: str, dataset: str, files: list[str]) -> Row:
    log(f"{dataset} / {reader}: bare parse ...")
    child = check(run_child([PY, "-c", code, *files], dict(os.environ)), f"{reader} parse")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    row = Row(dataset, reader, "parse", int(result["rows"]), float(result["seconds"]),
              child.rss_mb, is_import=False, load=child.load)
    log(f"  {row.seconds:.2f} s, {row.rate:,.0f} rows/s, peak RSS {row.rss_mb:,.0f} MB")
    return row


def generate(rows: int, seed: int, path: Path) -> Child:
    log(f"generating {rows:,} rows ...")
    return check(run_child([PY, str(REPO / "benchmarks" / "generate_police_uk.py"),
                            "--rows", str(rows), "--seed", str(seed), "--out", str(path)],
                           dict(os.environ)), "generator")


# --------------------------------------------------------------------------------------
# Report


def table(rows: list[Row]) -> str:
    fastest: dict[str, float] = {}
    for r in rows:
        if not r.is_import and r.seconds:
            fastest[r.dataset] = min(fastest.get(r.dataset, r.seconds), r.seconds)
    head = ("| dataset | database / reader | run | rows | seconds | rows/s | peak RSS MB "
            "| x fastest parse | >= 100k rows/s | <= 10x parse |")
    lines = [head, "|---|---|---|--:|--:|--:|--:|--:|:-:|:-:|"]
    for r in rows:
        base = fastest.get(r.dataset)
        if r.status == "skipped":
            secs = rate = ratio = "-"
        elif r.status == "timeout":
            secs = f"> {r.seconds:,.0f}"
            rate = f"< {r.rows / r.seconds:,.0f}"
            ratio = f"> {r.seconds / base:,.0f}" if base else "-"
        else:
            secs = f"{r.seconds:,.2f}" if r.seconds and r.seconds < 10 else f"{r.seconds:,.1f}"
            rate = f"{r.rate:,.0f}"
            ratio = f"{r.seconds / base:,.1f}" if base and r.seconds else "-"
        if r.is_import and r.status != "skipped":
            ok_rate = "yes" if r.rate and r.rate >= TARGET_RATE else "**no**"
            ok_ratio = "yes" if (r.rate and base and r.seconds / base <= TARGET_RATIO) else "**no**"
        else:
            ok_rate = ok_ratio = "-"
        rss = f"{r.rss_mb:,.0f}" if r.rss_mb and r.status != "skipped" else "-"
        lines.append(f"| {r.dataset} | {r.engine} | {r.run} | {r.rows:,} | {secs} | {rate} | "
                     f"{rss} | {ratio} | {ok_rate} | {ok_ratio} |")
    return "\n".join(lines)


def scaling_table(rows: list[Row]) -> list[str]:
    """Peak RSS and rate of first imports by input size: is memory bounded?"""
    picked = [r for r in rows if r.run in ("import", "probe") and r.rss_mb]
    if not picked:
        return []
    out = ["| database | input | rows | seconds | rows/s | peak RSS MB |",
           "|---|---|--:|--:|--:|--:|"]
    order = {"SQLite": 0, "PostgreSQL": 1}
    picked.sort(key=lambda r: (order.get(r.engine, 2), r.dataset.startswith("generated"), r.rows))
    for r in picked:
        secs = f"> {r.seconds:,.0f}" if r.status == "timeout" else f"{r.seconds:,.1f}"
        rate = (f"< {r.rows / r.seconds:,.0f}" if r.status == "timeout" and r.seconds
                else f"{r.rate:,.0f}")
        out.append(f"| {r.engine} | {r.dataset} | {r.rows:,} | {secs} | {rate} | "
                   f"{r.rss_mb:,.0f} |")
    verdicts = []
    for engine in order:
        single = [r for r in picked if r.engine == engine and r.dataset.startswith("generated")]
        if len(single) < 2:
            continue
        a, b = single[0], single[-1]
        grow = (b.rss_mb or 0) / (a.rss_mb or 1)
        verdict = "flat" if grow <= 1.25 else "**grows**"
        if a.rows < PROBE_MIN_ROWS:
            verdict = (f"no verdict (below {PROBE_MIN_ROWS:,} rows the file is within a few of "
                       "the importer's 32 MB read blocks; use a larger --rows)")
        verdicts.append(f"- {engine}: {a.rss_mb:,.0f} MB at {a.rows:,} rows vs "
                        f"{b.rss_mb:,.0f} MB at {b.rows:,} rows of the same shape "
                        f"({b.rows / a.rows:.0f}x the rows, {grow:.2f}x the memory): {verdict}")
    if verdicts:
        out += ["", "Peak RSS, small vs large generated file:", *verdicts]
    return out


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model or platform.machine()}), {mem:.0f} GiB RAM"


def git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "src")
    return f"{head}{' + uncommitted changes under src/' if dirty else ''}"


def versions() -> str:
    code = ("import polars, duckdb, django; print(f'polars {polars.__version__}, "
            "DuckDB {duckdb.__version__}, Django {django.__version__}')")
    done = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=False)
    return f"Python {platform.python_version()}, {done.stdout.strip()}"


# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the real Northumbria data")
    parser.add_argument("--rows", type=int, default=5_000_000,
                        help="rows in the generated file (5,000,000)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--timeout", type=float, default=150,
                        help="kill an import still running after this many seconds "
                        "(150; 0 = never)")
    parser.add_argument("--generated", type=Path,
                        help="use this generated file instead of generating one")
    parser.add_argument("--seed", type=int, default=20240501, help="generator seed")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="scratch directory (default: a new one under /tmp, removed after)")
    parser.add_argument("--pg-port", type=int, default=54331,
                        help="port of the throwaway PostgreSQL (54331)")
    parser.add_argument("--data", type=Path, default=SHARED / "data",
                        help=f"shared data folder ({SHARED / 'data'})")
    args = parser.parse_args(argv)
    timeout = args.timeout or None

    work = args.workdir or Path(tempfile.mkdtemp(prefix="csp-bench-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    databases: list[Database] = [SQLite(work)]
    if not args.skip_postgres:
        databases.append(PostgreSQL(args.pg_port, work))

    def cleanup() -> None:
        for db in databases:
            db.close()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    real = sorted(str(p) for p in (args.data / "police" / "northumbria").rglob("*-street.csv*"))
    if not real:
        raise SystemExit(f"no police.uk files under {args.data / 'police' / 'northumbria'}")
    datasets: list[tuple[str, list[str], int | None]] = [
        (f"Northumbria, {len(real)} months", real, None)
    ]
    generation = ""
    probe: tuple[str, list[str], int] | None = None
    if not args.quick:
        path = args.generated
        if path is None:
            path = work / f"police-uk-street-{args.rows}.csv"
            child = generate(args.rows, args.seed, path)
            generation = (f"Generated file: {args.rows:,} rows in {child.seconds:.0f} s "
                          f"(peak RSS {child.rss_mb:,.0f} MB), "
                          f"{path.stat().st_size / 1e6:,.0f} MB uncompressed CSV, seed "
                          f"{args.seed}. " + child.stderr.strip().splitlines()[0] + ".")
            log(generation)
            # The same shape at a tenth of the size: does memory grow with the rows?
            small = max(args.rows // 10, 10_000)
            if small < args.rows:
                probe_path = work / f"police-uk-street-{small}.csv"
                generate(small, args.seed + 1, probe_path)
                probe = (f"generated, {small / 1e6:g}M rows", [str(probe_path)], small)
        datasets.append((f"generated, {args.rows / 1e6:g}M rows" if args.generated is None
                         else f"generated ({path.name})", [str(path)], None))
        # Flush the generated files to disk before anything is timed: otherwise the kernel
        # writes the gigabyte back during the first imports and their fsyncs wait behind it.
        os.sync()

    results: list[Row] = []
    for dataset, files, _ in datasets:
        parsed = [parse_once("polars read_csv", POLARS_PARSE, dataset, files),
                  parse_once("DuckDB read_csv", DUCKDB_PARSE, dataset, files)]
        results += parsed
        rows = parsed[0].rows
        for db in databases:
            log(f"{dataset} / {db.name}: fresh database, migrate, wards and LSOAs")
            prepare(db, args.data / "boundaries")
            first = import_once(db, dataset, "import", files, rows, timeout)
            results.append(first)
            if first.status == "ok":
                results.append(import_once(db, dataset, "re-import", files, rows, timeout))
            else:
                results.append(Row(dataset, db.name, "re-import", rows, None, None,
                                   status="skipped", note="first import did not finish"))
            db.close()
    scaling: list[Row] = []
    for db in databases if probe else []:
        assert probe
        log(f"{probe[0]} / {db.name}: fresh database (memory and scaling probe)")
        prepare(db, args.data / "boundaries")
        scaling.append(import_once(db, probe[0], "probe", probe[1], probe[2], timeout))
        db.close()

    total = time.perf_counter() - started
    command = " ".join(["benchmarks/bench_import.py", *(argv if argv is not None
                                                          else sys.argv[1:])])
    print(f"Command: `.venv/bin/python {command}`  ")
    print(f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; whole run {total / 60:.1f} min  ")
    print(f"Machine: {machine()}; load average {load_before:.2f} before the run  ")
    print(f"Software: {versions()}; " + "; ".join(db.version() for db in databases) + "  ")
    print(f"Code: {git_state()}  ")
    if generation:
        print(generation + "  ")
    print()
    print(table(results))
    print()
    notes = [f"- {r.dataset} / {r.engine} / {r.run}: {r.note}" for r in results + scaling
             if r.note]
    mem = scaling_table(results + scaling)
    if mem:
        print("First import by input size (peak RSS should not grow with the rows; the real "
              "files are small, so the importer's blocks are small too):")
        print()
        print("\n".join(mem))
        print()
    busy = [r for r in results + scaling if r.load > (os.cpu_count() or 1) + 0.5]
    if busy:
        notes.append(f"- the machine was busy (1-minute load average above {os.cpu_count()}) "
                     "at the end of: " + "; ".join(f"{r.dataset} / {r.engine} / {r.run} "
                                                   f"({r.load:.1f})" for r in busy))
    if notes:
        print("Notes:")
        print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
