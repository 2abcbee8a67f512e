"""Hostile files against the readers alone (issue 9, item 2): each is refused quickly, in
bounded memory, with a message naming the file, the row where there is one, and the reason.

Each reader runs in a fresh interpreter (:func:`run_measured`), whose peak resident memory
(the kernel's high-water mark, VmHWM) is its own. Bounds: a refusal within 20 s and 400 MB
(an interpreter with polars and numpy loaded is about 80-150 MB); before the fix the long
line took the server to 4 GB, the spreadsheet 1.3 GB, and the quoted line breaks 46 s.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from csp_analytics import io
from tests.analytics.hostile_files import (
    long_line_gz,
    quoted_newlines_gz,
    run_measured,
    small_mapping,
    xlsx_one_huge_string,
)

SECONDS = 20.0
PEAK_MB = 400.0

READ_POLICE = """
import sys
from pathlib import Path
from csp_analytics import io
try:
    rows = sum(f.height for f in io.read_police_uk(Path(sys.argv[1])))
    print(f"read {rows} rows")
except io.RowError as exc:
    print(f"refused: {exc}")
"""

READ_MAPPED = """
import json, sys
from pathlib import Path
from csp_analytics import io
try:
    mapping = io.Mapping.from_dict(json.loads(sys.argv[2]), "mapping.yaml")
    rows = sum(f.height for f in io.read_mapped(Path(sys.argv[1]), mapping))
    print(f"read {rows} rows")
except (io.RowError, io.MappingError) as exc:
    print(f"refused: {exc}")
"""


def within_bounds(run, seconds: float = SECONDS, peak_mb: float = PEAK_MB) -> None:
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.seconds < seconds, f"took {run.seconds:.1f} s"
    assert run.peak_mb < peak_mb, f"peak {run.peak_mb:.0f} MB"


def test_a_gz_holding_one_256_mb_line_is_refused_at_the_record_limit(tmp_path: Path) -> None:
    path = long_line_gz(tmp_path / "2018-10-cleveland-street.csv.gz")
    assert path.stat().st_size < 300_000
    run = run_measured(READ_POLICE, str(path), timeout=60)
    within_bounds(run)
    assert run.stdout.strip() == (
        f"refused: {path}: row 2: a record (line) longer than 1 MB; the file is refused"
    )


def test_a_gz_bigger_than_the_size_limit_is_refused_after_that_many_bytes(tmp_path: Path) -> None:
    path = long_line_gz(tmp_path / "big.csv.gz", mb=8)
    limits = io.Limits(file_bytes=4 * io.MB, record_bytes=64 * io.MB)
    with pytest.raises(io.LimitExceeded, match=r"big\.csv\.gz: the file is larger than 4 MB"):
        list(io.read_police_uk(path, limits=limits, block_bytes=io.MB))


def test_an_xlsx_with_one_64_mb_shared_string_is_refused_before_it_is_loaded(
    tmp_path: Path,
) -> None:
    path = xlsx_one_huge_string(tmp_path / "returns.xlsx")
    assert path.stat().st_size < 100_000
    run = run_measured(READ_MAPPED, str(path), json.dumps(small_mapping()), timeout=60)
    within_bounds(run)
    assert run.stdout.strip() == (
        f"refused: {path}: xl/sharedStrings.xml holds a value longer than 64 KB"
    )


def test_an_xlsx_whose_shared_strings_pass_the_table_limit_is_refused(tmp_path: Path) -> None:
    path = xlsx_one_huge_string(tmp_path / "returns.xlsx", mb=2)
    limits = io.Limits(field_bytes=4 * io.MB, shared_strings_bytes=io.MB)
    mapping = io.Mapping.from_dict(small_mapping(), "mapping.yaml")
    with pytest.raises(io.LimitExceeded, match=r"shared-string table is 2 MB, more than 1 MB"):
        list(io.read_mapped(path, mapping, limits=limits))


def test_a_gz_of_3000_line_breaks_in_one_quoted_field_is_refused_quickly(tmp_path: Path) -> None:
    path = quoted_newlines_gz(tmp_path / "2018-10-cleveland-street.csv.gz")
    assert path.stat().st_size < 60_000
    run = run_measured(READ_POLICE, str(path), timeout=60)
    within_bounds(run)
    assert run.stdout.strip() == (
        f"refused: {path}: row 2: a record (line) longer than 1 MB; the file is refused"
    )


def test_finding_record_boundaries_is_linear_when_the_limits_allow_a_36_mb_field(
    tmp_path: Path,
) -> None:
    """With limits raised past the field, it is read: the cost no longer grows with line
    breaks x buffer size (the reader before the fix took 46 s on this file)."""
    path = quoted_newlines_gz(tmp_path / "quoted.csv.gz")
    code = READ_POLICE.replace(
        "io.read_police_uk(Path(sys.argv[1]))",
        "io.read_police_uk(Path(sys.argv[1]), limits=io.Limits(record_bytes=64 * io.MB, "
        "field_bytes=64 * io.MB))",
    )
    run = run_measured(code, str(path), timeout=90)
    within_bounds(run, peak_mb=1000)
    assert run.stdout.strip() == "read 3 rows"


def test_a_date_from_filename_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    """``(a+)+b`` against 30 ``a``s: Python's engine backtracks 2**30 ways (the penetration test
    measured 2.8 s at 24, doubling per character); RE2 answers at once."""
    path = tmp_path / ("a" * 30 + ".csv")
    path.write_text("Category\nFly-tipping\n")
    mapping = small_mapping(
        columns={"category": "Category"}, date_from_filename="(a+)+b", date_format="month"
    )
    run = run_measured(READ_MAPPED, str(path), json.dumps(mapping), timeout=30)
    within_bounds(run, seconds=10)
    assert run.stdout.strip() == (
        f"refused: {path}: header: file name does not match date_from_filename '(a+)+b'"
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(\d{4})-\1", "patterns are run by RE2"),  # a back-reference
        (r"(?<=x)(\d{4}-\d{2})", "patterns are run by RE2"),  # look-behind
        ("(" + "a" * 300 + ")", "at most 200 characters"),
        (r"\d{4}-\d{2}", "needs one (group)"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_naming_the_field(pattern: str, reason: str) -> None:
    with pytest.raises(io.MappingError, match="mapping field 'date_from_filename'") as caught:
        io.Mapping.from_dict(small_mapping(date_from_filename=pattern), "m.yaml")
    assert reason in str(caught.value)


def test_a_field_longer_than_the_limit_is_refused_naming_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "returns.csv"
    path.write_text("Date,Category\n2024-01-05,Fly-tipping\n2024-01-06," + "x" * 70_000 + "\n")
    mapping = io.Mapping.from_dict(small_mapping(), "m.yaml")
    with pytest.raises(io.LimitExceeded) as caught:
        list(io.read_mapped(path, mapping))
    assert str(caught.value) == (f"{path}: row 2, column 'Category': a value longer than 64 KB")


def test_rows_and_columns_past_the_limits_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "returns.csv"
    path.write_text("Date,Category\n" + "2024-01-05,Fly-tipping\n" * 11)
    mapping = io.Mapping.from_dict(small_mapping(), "m.yaml")
    with pytest.raises(io.LimitExceeded, match=r"returns\.csv: row 11: more than 10 rows"):
        list(io.read_mapped(path, mapping, limits=io.Limits(rows=10)))
    with pytest.raises(io.LimitExceeded, match="the header has 2 columns, more than 1"):
        list(io.read_mapped(path, mapping, limits=io.Limits(columns=1)))


def test_a_quoted_line_break_still_reads_as_one_record_across_blocks(tmp_path: Path) -> None:
    """The boundary search carries the quote state from block to block."""
    path = tmp_path / "notes.csv"
    rows = [f'2024-01-{d:02d},"Fly-tipping\nby the ""gate"", again"' for d in range(1, 29)]
    path.write_text("Date,Category\n" + "\n".join(rows) + "\n")
    mapping = io.Mapping.from_dict(small_mapping(), "m.yaml")
    frames = list(io.read_mapped(path, mapping, block_bytes=64))
    assert len(frames) > 1
    categories = [c for f in frames for c in f["source_category"]]
    assert categories == ['Fly-tipping\nby the "gate", again'] * 28
    assert [r for f in frames for r in f["row"]] == list(range(1, 29))


def spreadsheet(path: Path, rows: list[tuple[object, ...]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_real_shaped_spreadsheet_is_read_within_the_limits(tmp_path: Path) -> None:
    path = spreadsheet(
        tmp_path / "returns.xlsx",
        [("Date", "Category"), ("2024-01-05", "Fly-tipping"), ("2024-01-06", "Graffiti")],
    )
    mapping = io.Mapping.from_dict(small_mapping(), "m.yaml")
    frames = list(io.read_mapped(path, mapping))
    assert [c for f in frames for c in f["source_category"]] == ["Fly-tipping", "Graffiti"]


def test_a_sheet_past_the_cell_row_or_column_limits_is_refused(tmp_path: Path) -> None:
    rows = [("Date", "Category", "Note")] + [("2024-01-05", "Fly-tipping", "x")] * 5
    path = spreadsheet(tmp_path / "returns.xlsx", rows)
    mapping = io.Mapping.from_dict(small_mapping(), "m.yaml")
    with pytest.raises(io.LimitExceeded, match=r"row 4: the sheet has more than 12 cells"):
        list(io.read_mapped(path, mapping, limits=io.Limits(cells=12)))
    with pytest.raises(io.LimitExceeded, match=r"row 3: the sheet has more than 2 rows"):
        list(io.read_mapped(path, mapping, limits=io.Limits(rows=2)))
    with pytest.raises(io.LimitExceeded, match="the sheet has 3 columns, more than 2"):
        list(io.read_mapped(path, mapping, limits=io.Limits(columns=2)))


def test_a_spreadsheet_part_declaring_entities_is_refused(tmp_path: Path) -> None:
    """An XML entity bomb needs a DOCTYPE; spreadsheets never have one."""
    import zipfile

    good = spreadsheet(tmp_path / "good.xlsx", [("Date", "Category"), ("2024-01-05", "x")])
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b"<worksheet", b'<!DOCTYPE w [<!ENTITY a "aaaa">]><worksheet', 1
                )
            out.writestr(item, data)
    mapping = io.Mapping.from_dict(small_mapping(), "m.yaml")
    with pytest.raises(io.LimitExceeded, match="sheet1.xml declares a DOCTYPE, entity or CDATA"):
        list(io.read_mapped(bad, mapping))


def test_a_damaged_gz_or_spreadsheet_is_refused_as_unreadable(tmp_path: Path) -> None:
    gz = tmp_path / "2018-10-cleveland-street.csv.gz"
    gz.write_bytes(b"Crime ID,Month\n" + gzip.compress(b"x" * 1000))  # not gzip at the start
    with pytest.raises(io.RowError, match=r"street\.csv\.gz: header: not a readable \.gz file"):
        list(io.read_police_uk(gz))
    book = tmp_path / "returns.xlsx"
    book.write_bytes(b"PK\x03\x04 not really a zip archive")
    mapping = io.Mapping.from_dict(small_mapping(), "m.yaml")
    with pytest.raises(io.RowError, match=r"returns\.xlsx: header: not a readable XLSX file"):
        list(io.read_mapped(book, mapping))
