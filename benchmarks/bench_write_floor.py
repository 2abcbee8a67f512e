"""The databases' own write floor for an import, beside the bare parse of the same file.

    .venv/bin/python benchmarks/bench_write_floor.py --rows 5000000      # about 3 minutes
    .venv/bin/python benchmarks/bench_write_floor.py --rows 401207 --skip-postgres

Generates a police.uk file (benchmarks/generate_police_uk.py, calibrated on the real
Northumbria series) and imports it with ``csp import-incidents`` into a fresh SQLite database,
so that the rows exist exactly as the import stores them. Then, with nothing else running in
the process, it times writing those rows again, already prepared in memory:

- **SQLite:** into a fresh database with the same table and indexes, through the import's own
  staging path (``incidents.staging.insert_staged``, 75,000-row blocks), WAL and
  ``synchronous=FULL``, the import's 64 MB page cache; then the commit.
- **PostgreSQL:** ``COPY`` of the same rows (CSV prepared beforehand) into an empty copy of
  the table without indexes, then the primary key, the unique constraint and the two
  indexes, as an import's first load does; in a throwaway cluster (scripts/pg_throwaway.sh).

The baseline is polars' bare ``read_csv`` of the generated file, in the same run. The issue's
target "no slower than 10x the bare parse" cannot be met by any importer whose database write
alone takes longer than ten parses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CSP_SHARED", REPO.parent / "shared")).resolve()
PY = sys.executable
CSP = [PY, "-c", "from csp_platform.cli import main; main()"]
COLUMNS = [
    "source_id", "batch_id", "ident", "source_ref", "source_category", "category_id", "month",
    "place_id", "outcome", "ward_id",
]  # fmt: skip
TABLE = "incidents_incident"


def run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{done.stderr[-2000:]}")


def timed(label: str, seconds: float, rows: int) -> tuple[str, float, int]:
    print(f"  {label}: {seconds:.1f} s", flush=True)
    return label, seconds, rows


def parse_seconds(path: Path) -> float:
    code = (
        "import sys, time, polars as pl; t = time.perf_counter(); "
        "pl.read_csv(sys.argv[1], infer_schema=False); print(time.perf_counter() - t)"
    )
    out = subprocess.run([PY, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout)


def sqlite_floor(source_db: Path, work: Path) -> tuple[float, float, int]:
    import polars as pl

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csp_platform.settings")
    import django

    django.setup()
    from csp_platform.incidents import staging

    src = sqlite3.connect(source_db)
    ddl = [
        r[0]
        for r in src.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", [TABLE]
        )
    ]
    frame = pl.read_database(
        f"SELECT {', '.join(COLUMNS)} FROM {TABLE}",  # noqa: S608
        src,
        infer_schema_length=10_000,
    )
    path = work / "floor.sqlite3"
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA cache_size=-65536")
    for statement in ddl:
        db.execute(statement)
    db.execute(f"ATTACH ':memory:' AS {staging.STAGE}")
    db.execute("BEGIN IMMEDIATE")
    t0 = time.perf_counter()
    for block in frame.iter_slices(75_000):
        staging.insert_staged(db, TABLE, COLUMNS, block)
    t1 = time.perf_counter()
    db.execute("COMMIT")
    t2 = time.perf_counter()
    frame.write_csv(work / "rows.csv", include_header=False, null_value="\\N")
    return t1 - t0, t2 - t1, frame.height


def postgres_floor(work: Path, port: int) -> list[tuple[str, float]]:
    import psycopg

    env = {
        **os.environ,
        "CSP_TEST_PG_PORT": str(port),
        "CSP_TEST_PG_DIR": f"/tmp/csp-floor-pg-{port}",
    }
    script = str(REPO / "scripts" / "pg_throwaway.sh")
    url = subprocess.run([script, "start"], env=env, capture_output=True, text=True, check=True)
    try:
        run([*CSP, "migrate", "-v0"], {**env, "DATABASE_URL": url.stdout.strip()})
        steps = []
        with psycopg.connect(url.stdout.strip()) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE floor (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING IDENTITY)")
            t = time.perf_counter()
            sql = f"COPY floor ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            with cur.copy(sql) as copy, open(work / "rows.csv", "rb") as rows:
                while chunk := rows.read(1 << 24):
                    copy.write(chunk)
            steps.append(("COPY into the table without indexes", time.perf_counter() - t))
            for label, statement in [
                ("primary key", "ALTER TABLE floor ADD PRIMARY KEY (id)"),
                ("unique (source, ident)", "ALTER TABLE floor ADD UNIQUE (source_id, ident)"),
                ("index (ward, month)", "CREATE INDEX ON floor (ward_id, month)"),
                ("index (district, month)", "CREATE INDEX ON floor (district_id, month)"),
            ]:
                t = time.perf_counter()
                cur.execute(statement)
                steps.append((label, time.perf_counter() - t))
            t = time.perf_counter()
            conn.commit()
            steps.append(("commit", time.perf_counter() - t))
        return steps
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--pg-port", type=int, default=54332)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="csp-floor-"))
    try:
        data = SHARED / "data"
        generated = work / f"police-uk-{args.rows}.csv"
        print(f"generating {args.rows:,} rows ...", flush=True)
        run(
            [PY, str(REPO / "benchmarks" / "generate_police_uk.py"), "--rows", str(args.rows),
             "--out", str(generated), "--real", str(data / "police" / "northumbria")],
            dict(os.environ),
        )  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["CSP_VAR_DIR"] = str(work / "var")
        print("importing it once (SQLite), so the rows exist as the import stores them ...")
        run([*CSP, "migrate", "-v0"], env)
        bounds = data / "boundaries"
        wards = ["E06000057", "E08000021", "E08000022", "E08000023", "E08000024", "E08000037"]
        run([*CSP, "import-areas", "--level", "ward",
             *[str(bounds / "wards_2013" / f"{c}.geojson") for c in wards]], env)  # fmt: skip
        run([*CSP, "import-incidents", "--format", "police-uk", str(generated)], env)
        parse = parse_seconds(generated)
        print(f"polars bare parse: {parse:.2f} s; ten times that: {10 * parse:.1f} s")
        write, commit, rows = sqlite_floor(work / "var" / "csp.sqlite3", work)
        print()
        print(f"| engine | step | seconds | x bare parse ({parse:.2f} s) |")
        print("|---|---|--:|--:|")
        print(f"| SQLite | staged INSERT ... SELECT of {rows:,} rows | {write:.1f} | |")
        print(f"| SQLite | commit (WAL, synchronous=FULL) | {commit:.1f} | |")
        print(f"| SQLite | **total** | **{write + commit:.1f}** | {(write + commit) / parse:.1f} |")
        if not args.skip_postgres:
            steps = postgres_floor(work, args.pg_port)
            for label, seconds in steps:
                print(f"| PostgreSQL | {label} | {seconds:.1f} | |")
            total = sum(s for _, s in steps)
            print(f"| PostgreSQL | **total** | **{total:.1f}** | {total / parse:.1f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
