"""What each hostile file of issue 9 (item 2) costs the readers, beside a real file read in the
same run.

    .venv/bin/python benchmarks/bench_hostile.py

Each file is read by ``csp_analytics.io`` in a fresh interpreter (tests/analytics/
hostile_files.py: wall time and the process's own peak resident memory). The baseline row is
a real police.uk month (Cleveland, 2018-10, 9,352 rows) read the same way; the "x baseline"
columns compare with it. The tests bound each refusal at 20 s and 400 MB
(tests/analytics/test_hostile_readers.py); before the fix the long line took 38 s and 3 GB
here, the spreadsheet 741 MB, the quoted line breaks 53 s, the pattern minutes.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.analytics.hostile_files import (  # noqa: E402
    long_line_gz,
    quoted_newlines_gz,
    run_measured,
    small_mapping,
    xlsx_one_huge_string,
)
from tests.analytics.test_hostile_readers import READ_MAPPED, READ_POLICE  # noqa: E402
from tests.conftest import DATA  # noqa: E402


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    by_name = folder / ("a" * 30 + ".csv")
    by_name.write_text("Category\nFly-tipping\n")
    pattern = small_mapping(
        columns={"category": "Category"}, date_from_filename="(a+)+b", date_format="month"
    )
    runs = [
        ("baseline: a real police.uk month", READ_POLICE, (
            str(DATA / "police/cleveland/2018-10/2018-10-cleveland-street.csv"),)),
        ("a: 256 MB line in a .csv.gz", READ_POLICE, (str(long_line_gz(folder / "a.csv.gz")),)),
        ("b: 64 MB shared string (.xlsx)", READ_MAPPED, (
            str(xlsx_one_huge_string(folder / "b.xlsx")), json.dumps(small_mapping()))),
        ("d: 3,000 quoted line breaks", READ_POLICE, (
            str(quoted_newlines_gz(folder / "d.csv.gz")),)),
        ("e: (a+)+b on 30 a's", READ_MAPPED, (str(by_name), json.dumps(pattern))),
    ]  # fmt: skip
    print(f"{'file':34} {'seconds':>8} {'peak MB':>8} {'x base s':>9} {'x base MB':>9}  outcome")
    try:
        measure(runs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(runs: list[tuple[str, str, tuple[str, ...]]]) -> None:
    base = None
    for label, code, args in runs:
        run = run_measured(code, *args, timeout=120)
        base = base or run
        outcome = (run.stdout.strip() or run.stderr.strip().splitlines()[-1])[:60]
        print(
            f"{label:34} {run.seconds:8.2f} {run.peak_mb:8.0f} "
            f"{run.seconds / base.seconds:9.2f} {run.peak_mb / base.peak_mb:9.2f}  {outcome}"
        )


if __name__ == "__main__":
    main()
