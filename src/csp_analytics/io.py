"""Reading partner files into one normalised table, with row-level validation.

Two readers, both streaming (a file is read in blocks of ``block_bytes``, so memory does not
grow with the file) and both returning polars frames in the same normalised shape:

* :func:`read_police_uk` for data.police.uk street-level files (``.csv`` or ``.csv.gz``).
* :func:`read_mapped` for any partner CSV/XLSX described by a :class:`Mapping`.

A bad row raises :class:`RowError` naming the file, row, column and reason; nothing is
returned for a file that has one. Identity (what makes two rows the same incident, so that a
re-import adds nothing) is decided here, per source and month; docs/data-model.md#identity.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import re2

from csp_analytics.geo import BNG_BOUNDS, WGS84_BOUNDS, to_bng, to_wgs84

POLICE_UK_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip

INCIDENT_SCHEMA: dict[str, Any] = {
    "file": pl.String,
    "row": pl.Int64,
    "ident": pl.String,
    "source_ref": pl.String,
    "source_category": pl.String,
    "month": pl.Date,
    "occurred_on": pl.Date,
    "occurred_at": pl.Time,
    "date_precision": pl.String,
    "lon": pl.Float64,
    "lat": pl.Float64,
    "easting": pl.Float64,
    "northing": pl.Float64,
    "location_precision": pl.String,
    "location_text": pl.String,
    "lsoa_given": pl.String,
    "outcome": pl.String,
    "organisation": pl.String,
    "excluded": pl.Boolean,
}
AGGREGATE_SCHEMA: dict[str, Any] = {
    "file": pl.String,
    "row": pl.Int64,
    "ident": pl.String,
    "month": pl.Date,
    "period_months": pl.Int64,
    "area_code": pl.String,
    "source_category": pl.String,
    "count": pl.Float64,
    "excluded": pl.Boolean,
}
DEFAULT_BLOCK_BYTES = 16 * 1024 * 1024  # ~75k police.uk rows a block
_MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"


class RowError(ValueError):
    """A row (or the header, row 0) that cannot be imported. The whole file is rejected."""

    def __init__(self, file: str, row: int, column: str | None, reason: str) -> None:
        self.file, self.row, self.column, self.reason = file, row, column, reason
        where = "header" if row == 0 else f"row {row} (line {row + 1})"
        col = f", column '{column}'" if column else ""
        super().__init__(f"{file}: {where}{col}: {reason}")


class LimitExceeded(RowError):
    """A file past one of the reader's :class:`Limits`, refused as soon as that is seen."""

    def __init__(self, file: str, row: int | None, column: str | None, reason: str) -> None:
        self.file, self.row, self.column, self.reason = file, row or 0, column, reason
        where = f": row {row}" if row else ""
        col = f", column '{column}'" if column else ""
        ValueError.__init__(self, f"{file}{where}{col}: {reason}")


KB = 1024
MB = 1024 * KB


def _size(n: int) -> str:
    return f"{n // MB:,} MB" if n >= MB and n % MB == 0 else f"{n // KB:,} KB"


@dataclass(frozen=True)
class Limits:
    """How much of one file a reader accepts; a file past a limit is refused (LimitExceeded).

    Sizes are in bytes. Hostile files (a small ``.gz`` holding one line of hundreds of
    megabytes, a spreadsheet holding one enormous string, a quoted field of thousands of
    lines) are refused after reading at most about one record and one block more than the
    limit, never the whole file, and every check is linear in the input. The defaults are far
    above any real partner file (the largest record in ../shared/data is 0.7 KB, the largest
    field 78 bytes). The platform sets them from its ``CSP_IMPORT_*`` settings.
    """

    file_bytes: int = 4096 * MB  # one file, decompressed (CSV text; an XLSX's parts together)
    record_bytes: int = MB  # one record: a line, or the lines of a record with quoted breaks
    field_bytes: int = 64 * KB  # one field (or spreadsheet cell)
    rows: int = 10_000_000  # data rows of one file (a spreadsheet's rows, empty ones included)
    columns: int = 1_000  # fields of the header (a spreadsheet's columns)
    cells: int = 20_000_000  # a spreadsheet's cells as read: rows x columns, gaps included
    shared_strings_bytes: int = 100 * MB  # an XLSX's shared-string table (uncompressed)


DEFAULT_LIMITS = Limits()


class MappingError(ValueError):
    """A mapping file that is not usable; names the mapping file and the field."""

    def __init__(self, file: str, field_name: str, reason: str) -> None:
        self.file, self.field_name, self.reason = file, field_name, reason
        super().__init__(f"{file}: mapping field '{field_name}': {reason}")


# --------------------------------------------------------------------------------------
# Raw blocks


@dataclass(frozen=True)
class FileInfo:
    """What an import records about a file: its path, content hash and data rows."""

    path: str
    sha256: str
    rows: int


def _open_bytes(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return _GzipReader(path)
    return open(path, "rb")  # noqa: SIM115


class _GzipReader(gzip.GzipFile):
    """A ``.gz`` file whose damage (a bad header, a truncated stream) reads as a RowError."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self.path = path

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise RowError(str(self.path), 0, None, f"not a readable .gz file ({exc})") from exc


class _RecordScan:
    """Finds record boundaries (newlines outside quoted fields) in a stream of chunks.

    Each byte is looked at once: the quote parity is carried from chunk to chunk, so the cost
    is linear in the file whatever its quoting (searching back from the end of a buffer and
    counting its quotes for each newline cost newlines x buffer). Checks the limits on the
    decompressed size and on the length of a record as it goes.
    """

    def __init__(self, name: str, limits: Limits) -> None:
        self.name, self.limits = name, limits
        self.odd = 0  # 1 inside a quoted field at the end of what was scanned
        self.open = 0  # bytes of the record not yet ended
        self.records = 0  # records ended so far (blank lines included)
        self.total = 0  # bytes read

    def count(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.total > self.limits.file_bytes:
            raise LimitExceeded(
                self.name,
                None,
                None,
                f"the file is larger than {_size(self.limits.file_bytes)} (decompressed); "
                "nothing was read beyond that",
            )

    def feed(self, chunk: bytes) -> int:
        """Offset just after the last record boundary in ``chunk``, or -1 if it has none."""
        data = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)
        if b'"' in chunk:
            # quotes up to and including each byte, mod 2 (uint8 sums wrap, parity holds)
            odd = (np.cumsum(data == 34, dtype=np.uint8) + self.odd) & 1
            ends = ends[odd[ends] == 0]
            self.odd = int(odd[-1])
        elif self.odd:
            ends = ends[:0]
        if ends.size == 0:
            self.open += len(chunk)
            self._check(self.open, 0)
            return -1
        lengths = np.diff(ends, prepend=-1)
        lengths[0] += self.open
        longest = int(lengths.argmax())
        self._check(int(lengths[longest]), longest)
        self.records += int(ends.size)
        self.open = len(chunk) - int(ends[-1]) - 1
        self._check(self.open, 0)
        return int(ends[-1]) + 1

    def _check(self, length: int, offset: int) -> None:
        if length > self.limits.record_bytes:
            raise LimitExceeded(
                self.name,
                self.records + offset + 1,
                None,
                f"a record (line) longer than {_size(self.limits.record_bytes)}; "
                "the file is refused",
            )


def iter_blocks(
    path: Path, *, block_bytes: int = DEFAULT_BLOCK_BYTES, limits: Limits = DEFAULT_LIMITS
) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(header_line, block)`` for a CSV file, block by block.

    Blocks end on a record boundary (a newline outside quotes). A UTF-8 byte-order mark is
    dropped. CRLF line ends are left to polars, except in blocks with quoted fields, which
    are made LF throughout (a quoted line break reads as LF whatever the file used).
    Readers number rows from the parsed frames (see :func:`_numbered_frames`); the file's
    hash is :func:`file_info`'s job. A file past ``limits`` (decompressed size, record
    length) raises :class:`LimitExceeded` as soon as that is seen.
    """
    name = str(path)
    scan = _RecordScan(name, limits)
    with _open_bytes(path) as fh:
        first = fh.read(block_bytes)
        scan.count(first)
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        nl = first.find(b"\n")
        if nl < 0:
            header, rest = first, b""
        else:
            header, rest = first[:nl], first[nl + 1 :]
        if len(header) > limits.record_bytes:
            raise LimitExceeded(
                name, None, None, f"the header line is longer than {_size(limits.record_bytes)}"
            )
        header = header.rstrip(b"\r")
        pending = b""
        data = rest
        while True:
            if data:
                cut = scan.feed(data)
                if cut < 0:
                    pending += data
                    data = fh.read(block_bytes)
                    scan.count(data)
                    continue
                block, pending = pending + data[:cut], data[cut:]
            else:
                block, pending = pending, b""
            if b"\r" in block and b'"' in block:
                # polars reads CRLF itself; only a line break inside a quoted field would
                # keep its CR, so such blocks are made LF throughout.
                block = block.replace(b"\r\n", b"\n")
            if block and not block.isspace():  # (isspace stops at the first other byte)
                yield header, block
            if not data:
                return
            data = fh.read(block_bytes)
            scan.count(data)


def _numbered_frames(
    name: str, blocks: Iterator[tuple[bytes, bytes]], sep: str, limits: Limits = DEFAULT_LIMITS
) -> Iterator[pl.DataFrame]:
    """Parse blocks into frames whose ``__row`` is the 1-based data row in the file (blank
    lines are not rows: polars skips them, and so does the structure check). Checks the
    limits on columns, rows and field length."""
    row = 1
    for header, block in blocks:
        if row == 1:
            columns = len(next(csv.reader([header.decode("utf-8", "replace")], delimiter=sep)))
            if columns > limits.columns:
                raise LimitExceeded(
                    name, None, None, f"the header has {columns:,} columns, more than "
                    f"{limits.columns:,}",
                )  # fmt: skip
        frame = _read_block(name, header, block, row, sep)
        if row + frame.height - 1 > limits.rows:
            raise LimitExceeded(name, limits.rows + 1, None, f"more than {limits.rows:,} rows")
        _check_field_lengths(name, frame, limits)
        row += frame.height
        yield frame


def _check_field_lengths(name: str, frame: pl.DataFrame, limits: Limits) -> None:
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if not text or frame.height == 0:
        return
    longest = frame.select(pl.col(text).str.len_bytes().max()).row(0)
    for column, length in zip(text, longest, strict=True):
        if length is not None and length > limits.field_bytes:
            at = frame.select(pl.col(column).str.len_bytes().arg_max()).item()
            raise LimitExceeded(
                name,
                int(frame["__row"][at]),
                column,
                f"a value longer than {_size(limits.field_bytes)}",
            )


def file_info(path: Path, rows: int) -> FileInfo:
    """SHA-256 of the file as stored (compressed files hash their compressed bytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return FileInfo(path=str(path), sha256=digest.hexdigest(), rows=rows)


def _check_structure(name: str, header: bytes, block: bytes, first_row: int, sep: str) -> None:
    """Every record must have as many fields as the header (polars pads short rows silently)."""
    expected = len(next(csv.reader([header.decode("utf-8", "replace")], delimiter=sep)))
    if b'"' in block and re.search(rb'"[^"]*\n[^"]*"', block):
        # Quoted fields with line breaks: fall back to the csv module for this block.
        # (field lengths are the readers' limit to check, not the csv module's 128 KB)
        previous = csv.field_size_limit(max(csv.field_size_limit(), len(block)))
        try:
            reader = csv.reader(io.StringIO(block.decode("utf-8", "replace")), delimiter=sep)
            for offset, record in enumerate(r for r in reader if r):
                if len(record) != expected:
                    raise RowError(
                        name,
                        first_row + offset,
                        None,
                        f"expected {expected} fields, found {len(record)}",
                    )
        except csv.Error as exc:
            raise RowError(name, first_row, None, f"not a readable CSV file ({exc})") from exc
        finally:
            csv.field_size_limit(previous)
        return
    if b"\x00" in block:
        lines = pl.Series("l", block.decode("utf-8", "replace").split("\n"), dtype=pl.String)
    else:  # polars splits the lines (one field per line: no separator, no quoting)
        lines = pl.read_csv(
            block,
            has_header=False,
            separator="\x00",
            quote_char=None,
            infer_schema=False,
            encoding="utf8-lossy",
        ).to_series()
    lines = lines.filter(lines.is_not_null() & (lines.str.strip_chars() != ""))
    if b'"' in block:
        lines = lines.str.replace_all(r'"[^"]*"', "")
    fields = lines.str.count_matches(sep, literal=True) + 1
    bad = (fields != expected).arg_true()
    if bad.len():
        i = int(bad[0])
        raise RowError(
            name, first_row + i, None, f"expected {expected} fields, found {int(fields[i])}"
        )


def _read_block(name: str, header: bytes, block: bytes, first_row: int, sep: str) -> pl.DataFrame:
    _check_structure(name, header, block, first_row, sep)
    try:
        frame = pl.read_csv(
            header + b"\n" + block,
            separator=sep,
            infer_schema=False,
            empty_string_is_null=False,
            null_values=None,
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise RowError(name, first_row, None, f"not a readable CSV file ({exc})") from exc
    return frame.with_columns(
        pl.int_range(first_row, first_row + frame.height, dtype=pl.Int64).alias("__row")
    )


def _constant(
    value: str | bool | None, n: int, dtype: pl.DataType | type[pl.DataType]
) -> pl.Series:
    """A column of ``n`` copies of one value, built by polars (no Python list)."""
    return pl.repeat(value, n, dtype=dtype, eager=True)


def _first_bad(frame: pl.DataFrame, bad: pl.Series) -> int | None:
    idx = bad.arg_true()
    return None if idx.len() == 0 else int(frame["__row"][int(idx[0])])


def _fail_if(frame: pl.DataFrame, name: str, column: str, bad: pl.Series, reason: str) -> None:
    row = _first_bad(frame, bad.fill_null(False))
    if row is not None:
        value = frame[column][int(bad.fill_null(False).arg_true()[0])] if column in frame else ""
        shown = f" (found {str(value)[:60]!r})" if value not in (None, "") else ""
        raise RowError(name, row, column, reason + shown)


# --------------------------------------------------------------------------------------
# Identity


class _Occurrences:
    """Running count of identical-looking records in one file, carried across blocks.

    Records without a source reference (police.uk ASB has no Crime ID) are identified by a
    digest of their whole content (which includes the month) plus their occurrence number
    among identical records of the same file: the 1st, 2nd ... identical row. Re-importing a
    file, or another file holding the same month, gives the same identities.
    """

    def __init__(self) -> None:
        # Counts so far per content, keyed by the first 60 bits of its digest (12 bytes a
        # distinct row instead of about 50 for the hex string: a 5M-row file holds 1.5M).
        self.carried = pl.DataFrame(schema={"key60": pl.Int64, "base": pl.UInt32})

    def idents(self, content: pl.Series) -> pl.Series:
        keys = pl.Series(
            "key",
            [hashlib.blake2b(s.encode(), digest_size=16).hexdigest() for s in content.to_list()],
            dtype=pl.String,
        )
        frame = pl.DataFrame({"key": keys}).with_columns(
            pl.col("key").str.slice(0, 15).str.to_integer(base=16).alias("key60"),
            pl.int_range(pl.len(), dtype=pl.UInt32).over("key").alias("k"),
        )
        frame = frame.join(self.carried, on="key60", how="left", maintain_order="left")
        frame = frame.with_columns((pl.col("k") + pl.col("base").fill_null(0)).alias("k"))
        counts = frame.group_by("key60").agg(pl.len().cast(pl.UInt32).alias("base"))
        self.carried = pl.concat([self.carried, counts]).group_by("key60").agg(pl.col("base").sum())
        return frame.select(
            pl.concat_str(
                [pl.col("key").str.slice(0, 20), pl.lit("-"), pl.col("k").cast(pl.String)]
            )
        ).to_series()


def _digests(values: pl.Series, size: int) -> pl.Series:
    return pl.Series(
        [hashlib.blake2b(v.encode(), digest_size=size).hexdigest() for v in values],
        dtype=pl.String,
    )


def identities(
    month: pl.Series, reference: pl.Series, content: pl.DataFrame, occ: _Occurrences
) -> pl.Series:
    """The identity of each row: ``YYYYMM`` then a digest (32 characters at most).

    A row with a reference (Crime ID, IncidentNumber) is its month plus a digest of the
    reference; a police.uk Crime ID is a 64-hex SHA-256 digest already, so its first 26
    hex digits are used as they are. A row without one is its month plus a digest of its
    whole content (the columns of ``content``, as read) and its occurrence number among
    identical rows (:class:`_Occurrences`). Leading with the month keeps a month's
    identities together in the unique index, which makes bulk inserts cheaper than random
    keys, and lets an import look up the identities it already holds for a month with one
    range scan.
    """
    has_ref = reference != ""
    is_digest = reference.str.contains(r"^[0-9a-f]{64}$")
    ident = pl.select(
        pl.when(is_digest).then(reference.str.slice(0, 26)).otherwise(pl.lit(""))
    ).to_series()
    other = (has_ref & ~is_digest).arg_true()
    if other.len():
        ident = ident.scatter(other, _digests("r" + reference.gather(other), 13))
    no_ref = (~has_ref).arg_true()
    if no_ref.len():
        rows = content.filter(~has_ref).select(
            pl.concat_str(pl.all(), separator="\x1f", ignore_nulls=False)
        )
        ident = ident.scatter(no_ref, occ.idents(rows.to_series()))
    return (month.dt.strftime("%Y%m") + ident).alias("ident")


# --------------------------------------------------------------------------------------
# police.uk


def police_uk_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders to the street-level files inside them, sorted by name."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.name.endswith(("-street.csv", "-street.csv.gz"))
            )
            if not found:
                found = sorted(p for p in path.rglob("*") if p.name.endswith((".csv", ".csv.gz")))
            out.extend(found)
        else:
            out.append(path)
    return out


def read_police_uk(
    path: Path,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    bng: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[pl.DataFrame]:
    """Normalised incident frames (see ``INCIDENT_SCHEMA``) from one police.uk street file.

    Months are month precision only (police.uk publishes no day or time). Coordinates are
    anonymised map points ("snap points"), not addresses. Rows with no coordinates are kept,
    with ``location_precision`` ``none``. 2011 and 2021 LSOA codes are both accepted as given.
    ``bng=False`` leaves easting and northing empty, for a caller that converts each
    distinct point once (the platform does, per place). A file past ``limits`` raises
    :class:`LimitExceeded`.
    """
    name = str(path)
    occurrences = _Occurrences()
    blocks = iter_blocks(path, block_bytes=block_bytes, limits=limits)
    for frame in _numbered_frames(name, blocks, ",", limits):
        missing = [c for c in POLICE_UK_COLUMNS if c not in frame.columns]
        if missing:
            raise RowError(
                name,
                0,
                None,
                "not a police.uk street-level file: missing columns "
                + ", ".join(repr(c) for c in missing),
            )
        yield _normalise_police(name, frame, occurrences, bng)


def _normalise_police(
    name: str, frame: pl.DataFrame, occ: _Occurrences, bng: bool = True
) -> pl.DataFrame:
    col = frame.get_column
    _fail_if(frame, name, "Month", ~col("Month").str.contains(_MONTH_RE), "month is not YYYY-MM")
    for required in ("Crime type", "Falls within"):
        _fail_if(frame, name, required, col(required).str.strip_chars() == "", "is empty")
    lon = col("Longitude").str.strip_chars().cast(pl.Float64, strict=False)
    lat = col("Latitude").str.strip_chars().cast(pl.Float64, strict=False)
    for column, values in (("Longitude", lon), ("Latitude", lat)):
        _fail_if(
            frame,
            name,
            column,
            values.is_null() & (col(column).str.strip_chars() != ""),
            "is not a number",
        )
    _fail_if(
        frame,
        name,
        "Latitude",
        lon.is_null() != lat.is_null(),
        "longitude and latitude must both be given or both be empty",
    )
    x0, y0, x1, y1 = WGS84_BOUNDS
    _fail_if(frame, name, "Longitude", (lon < x0) | (lon > x1), "is outside the UK")
    _fail_if(frame, name, "Latitude", (lat < y0) | (lat > y1), "is outside the UK")

    crime_id = col("Crime ID").str.strip_chars()
    month = (col("Month") + "-01").str.to_date("%Y-%m-%d")
    ident = identities(month, crime_id, frame.select(POLICE_UK_COLUMNS), occ)
    lon_np = lon.to_numpy().astype(float)
    lat_np = lat.to_numpy().astype(float)
    if bng:
        east, north = to_bng(lon_np, lat_np)
    else:
        east = north = np.full(frame.height, np.nan)
    located = ~np.isnan(lon_np)
    return pl.DataFrame(
        {
            "file": _constant(name, frame.height, pl.String),
            "row": col("__row"),
            "ident": ident,
            "source_ref": crime_id,
            "source_category": col("Crime type").str.strip_chars(),
            "month": month,
            "occurred_on": _constant(None, frame.height, pl.Date),
            "occurred_at": _constant(None, frame.height, pl.Time),
            "date_precision": _constant("month", frame.height, pl.String),
            "lon": lon,
            "lat": lat,
            "easting": pl.Series(east).fill_nan(None),
            "northing": pl.Series(north).fill_nan(None),
            "location_precision": pl.Series(np.where(located, "snap", "none"), dtype=pl.String),
            "location_text": col("Location").str.strip_chars(),
            "lsoa_given": col("LSOA code").str.strip_chars(),
            "outcome": col("Last outcome category").str.strip_chars(),
            "organisation": col("Falls within").str.strip_chars(),
            "excluded": _constant(False, frame.height, pl.Boolean),
        },
        schema=INCIDENT_SCHEMA,
    )


# --------------------------------------------------------------------------------------
# Mapped partner files


@dataclass(frozen=True)
class CoordinateColumns:
    """A pair of coordinate columns in one system: ``bng`` (EPSG:27700) or ``wgs84``."""

    system: str
    x: str
    y: str
    precision: str = "exact"


@dataclass(frozen=True)
class Mapping:
    """How to read one partner's file: see examples/mappings/*.yaml and docs/importing.md."""

    file: str
    source_code: str
    source_name: str
    organisation: str
    organisation_kind: str
    kind: str
    scheme: str
    category: str | None
    category_constant: str | None
    date: str | None
    date_format: str
    date_from_filename: str | None
    time: str | None
    time_format: str
    reference: str | None
    location_text: str | None
    lsoa: str | None
    area: str | None
    area_level: str | None
    count: str | None
    coordinates: tuple[CoordinateColumns, ...]
    categories: dict[str, str]
    exclude: frozenset[str]
    unlisted: str
    null_values: tuple[str, ...]
    skip: dict[str, frozenset[str]]
    delimiter: str
    sheet: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, data: AnyMapping[str, Any], file: str = "<mapping>") -> Mapping:
        """Validate a parsed YAML mapping; every problem names the mapping field."""

        def need(section: AnyMapping[str, Any], key: str, where: str) -> Any:
            value = section.get(key)
            if value in (None, ""):
                raise MappingError(file, where, "is required")
            return value

        if not isinstance(data, AnyMapping):
            raise MappingError(file, "(top level)", "must be a mapping of fields")
        source = data.get("source") or {}
        columns = data.get("columns") or {}
        kind = data.get("kind", "incidents")
        if kind not in ("incidents", "aggregate"):
            raise MappingError(file, "kind", "must be 'incidents' or 'aggregate'")
        date_format = str(data.get("date_format", "%Y-%m-%d"))
        if not columns.get("date") and not data.get("date_from_filename"):
            raise MappingError(file, "columns.date", "is required (or give date_from_filename)")
        if not columns.get("category") and not data.get("category_constant"):
            raise MappingError(file, "columns.category", "is required (or category_constant)")
        coords = []
        for i, item in enumerate(data.get("coordinates") or []):
            system = str(item.get("system", "")).lower()
            if system not in ("bng", "wgs84"):
                raise MappingError(file, f"coordinates[{i}].system", "must be 'bng' or 'wgs84'")
            coords.append(
                CoordinateColumns(
                    system,
                    need(item, "x", f"coordinates[{i}].x"),
                    need(item, "y", f"coordinates[{i}].y"),
                    str(item.get("precision", "exact")),
                )
            )
        if kind == "aggregate":
            need(columns, "count", "columns.count")
            need(columns, "area", "columns.area")
            if data.get("area_level") not in ("lsoa", "ward", "msoa", "district", "custom"):
                raise MappingError(
                    file, "area_level", "must be one of lsoa, ward, msoa, district, custom"
                )
        code = str(source.get("code", ""))
        if code and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", code):
            raise MappingError(
                file, "source.code", "use lower-case letters, digits and hyphens (80 at most)"
            )
        for i, item in enumerate(data.get("coordinates") or []):
            if str(item.get("precision", "exact")) not in ("exact", "rounded", "snap"):
                raise MappingError(
                    file, f"coordinates[{i}].precision", "must be exact, rounded or snap"
                )
        unlisted = data.get("unlisted", "keep")
        if unlisted not in ("keep", "exclude"):
            raise MappingError(file, "unlisted", "must be 'keep' or 'exclude'")
        pattern = data.get("date_from_filename")
        if pattern:
            user_pattern(pattern, file, "date_from_filename")
        categories = {str(k): str(v) for k, v in (data.get("categories") or {}).items()}
        return cls(
            file=file,
            source_code=str(need(source, "code", "source.code")),
            source_name=str(need(source, "name", "source.name")),
            organisation=str(need(source, "organisation", "source.organisation")),
            organisation_kind=str(source.get("organisation_kind", "other")),
            kind=kind,
            scheme=str(need(data, "scheme", "scheme")),
            category=columns.get("category"),
            category_constant=data.get("category_constant"),
            date=columns.get("date"),
            date_format=date_format,
            date_from_filename=pattern,
            time=columns.get("time"),
            time_format=str(data.get("time_format", "%H:%M:%S")),
            reference=columns.get("reference"),
            location_text=columns.get("location_text"),
            lsoa=columns.get("lsoa"),
            area=columns.get("area"),
            area_level=data.get("area_level"),
            count=columns.get("count"),
            coordinates=tuple(coords),
            categories=categories,
            exclude=frozenset(str(v) for v in data.get("exclude") or []),
            unlisted=unlisted,
            null_values=tuple(str(v) for v in data.get("null_values") or ()),
            skip={
                str(k): frozenset(str(x) for x in (v if isinstance(v, list) else [v]))
                for k, v in (data.get("skip") or {}).items()
            },
            delimiter=str((data.get("format") or {}).get("delimiter", ",")),
            sheet=(data.get("format") or {}).get("sheet"),
            raw=dict(data),
        )

    def used_columns(self) -> list[str]:
        cols = [
            self.category,
            self.date,
            self.time,
            self.reference,
            self.location_text,
            self.lsoa,
            self.area,
            self.count,
        ]
        for c in self.coordinates:
            cols += [c.x, c.y]
        cols += list(self.skip)
        return [c for c in cols if c]


USER_PATTERN_MAX_CHARS = 200


def user_pattern(pattern: str, file: str, field_name: str) -> Any:
    """A regular expression written by a user (a mapping's ``date_from_filename``), compiled
    by RE2, whose matching time is linear in the text whatever the pattern: Python's
    backtracking engine takes exponential time on patterns such as ``(a+)+b``. RE2 has no
    back-references or look-around; a pattern using them is refused. Needs one (group)."""
    if not isinstance(pattern, str) or len(pattern) > USER_PATTERN_MAX_CHARS:
        raise MappingError(
            file, field_name, f"must be a pattern of at most {USER_PATTERN_MAX_CHARS} characters"
        )
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 * MB
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise MappingError(
            file,
            field_name,
            f"bad pattern ({reason}); patterns are run by RE2, a linear-time engine without "
            "back-references or look-around",
        ) from exc
    if compiled.groups != 1:
        raise MappingError(file, field_name, "needs one (group)")
    return compiled


def mapped_files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz", ".xlsx"))
                )
            )
        else:
            out.append(path)
    return out


def _xlsx_check(path: Path, limits: Limits) -> None:
    """Refuse a spreadsheet whose parts would take unbounded memory or time to read, before
    openpyxl reads any of it (openpyxl holds the whole shared-string table in memory, and the
    XML parser a whole text node).

    Reads every part once, as a stream: their uncompressed sizes together within
    ``file_bytes`` (zipfile stops at the size the archive declares), no DOCTYPE, entity or
    CDATA (``<!``: spreadsheet programs never write them), no run of text between two tags
    longer than a field can be written in (6 bytes a byte: ``&quot;``), and a shared-string
    table within ``shared_strings_bytes``.
    """
    from openpyxl.reader.excel import ExcelReader  # noqa: PLC0415
    from openpyxl.xml.constants import SHARED_STRINGS  # noqa: PLC0415

    name = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise RowError(name, 0, None, f"not a readable XLSX file ({exc})") from exc
    with archive:
        parts = archive.infolist()
        declared = sum(p.file_size for p in parts)
        if declared > limits.file_bytes:
            raise LimitExceeded(
                name, None, None, f"the spreadsheet is larger than {_size(limits.file_bytes)} "
                f"uncompressed ({declared // MB:,} MB)",
            )  # fmt: skip
        for part in parts:
            if part.filename.lower().endswith((".xml", ".rels")):  # (not images, .bin parts)
                _xml_part_check(name, archive, part, 6 * limits.field_bytes + 256)
        try:
            reader = ExcelReader(path, read_only=True, data_only=True)
            try:
                reader.read_manifest()
                strings = reader.package.find(SHARED_STRINGS)
            finally:
                reader.archive.close()
            size = 0 if strings is None else archive.getinfo(strings.PartName[1:]).file_size
        except Exception as exc:  # noqa: BLE001  (whatever a malformed package raises)
            raise RowError(name, 0, None, f"not a readable XLSX file ({exc!r})") from exc
        if size > limits.shared_strings_bytes:
            raise LimitExceeded(
                name, None, None, f"the shared-string table is {size // MB:,} MB, more than "
                f"{_size(limits.shared_strings_bytes)}",
            )  # fmt: skip


def _xml_part_check(name: str, archive: zipfile.ZipFile, part: zipfile.ZipInfo, run: int) -> None:
    """One part of a spreadsheet, streamed: no ``<!`` and no run without ``<`` over ``run``."""
    open_run = 0  # bytes since the last "<"
    last = b""
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(MB):
                if b"<!" in chunk or (last == b"<" and chunk[:1] == b"!"):
                    raise LimitExceeded(
                        name, None, None, f"{part.filename} declares a DOCTYPE, entity or CDATA "
                        "section, which spreadsheets do not use",
                    )  # fmt: skip
                last = chunk[-1:]
                tags = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 60)
                if tags.size == 0:
                    open_run += len(chunk)
                    longest = open_run
                else:
                    gaps = np.diff(tags, prepend=-1) - 1
                    gaps[0] += open_run
                    longest = int(gaps.max())
                    open_run = len(chunk) - int(tags[-1]) - 1
                if max(longest, open_run) > run:
                    raise LimitExceeded(
                        name, None, None, f"{part.filename} holds a value longer than "
                        f"{_size(run // 6)}",
                    )  # fmt: skip
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise RowError(name, 0, None, f"not a readable XLSX file ({exc})") from exc


def _xlsx_blocks(
    path: Path, sheet: str | None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[tuple[bytes, bytes]]:
    """An XLSX sheet as CSV text blocks, so both formats share one validation path.

    :func:`_xlsx_check` first; then the rows, columns and cells read (openpyxl pads rows to the
    sheet's declared dimensions and fills gaps between rows, all counted) are limited too."""
    import openpyxl  # noqa: PLC0415  (only needed for spreadsheets)

    name = str(path)
    _xlsx_check(path, limits)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001  (whatever a malformed workbook raises)
        raise RowError(name, 0, None, f"not a readable XLSX file ({exc!r})") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise RowError(name, 0, None, f"no sheet named {sheet!r} (has {book.sheetnames})")
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return

        def text(v: object) -> str:
            if v is None:
                return ""
            if hasattr(v, "strftime") and hasattr(v, "hour"):
                return v.strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[no-any-return]
            return str(v)

        def encode(values: Sequence[object]) -> bytes:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow([text(v) for v in values])
            return buf.getvalue().encode()

        head = encode(header).rstrip(b"\n")
        batch: list[bytes] = []
        cells = len(header)
        for row, values in enumerate(rows, start=1):
            cells += len(values)
            if len(values) > limits.columns:
                raise LimitExceeded(
                    name, None, None, f"the sheet has {len(values):,} columns, more than "
                    f"{limits.columns:,}",
                )  # fmt: skip
            if row > limits.rows or cells > limits.cells:
                what = f"{limits.rows:,} rows" if row > limits.rows else f"{limits.cells:,} cells"
                raise LimitExceeded(name, row, None, f"the sheet has more than {what}")
            if all(v is None for v in values):
                continue
            batch.append(encode(values))
            if len(batch) == 100_000:
                yield head, b"".join(batch)
                batch = []
        if batch:
            yield head, b"".join(batch)
    finally:
        book.close()


def read_mapped(
    path: Path,
    mapping: Mapping,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[pl.DataFrame]:
    """Normalised frames from a partner CSV/XLSX (incident or aggregate shape by ``kind``).
    A file past ``limits`` raises :class:`LimitExceeded`."""
    name = str(path)
    if path.name.lower().endswith(".xlsx"):
        blocks = _xlsx_blocks(path, mapping.sheet, limits)
        sep = ","
    else:
        blocks = iter_blocks(path, block_bytes=block_bytes, limits=limits)
        sep = mapping.delimiter
    file_month = _month_from_filename(name, mapping)
    occurrences = _Occurrences()
    for frame in _numbered_frames(name, blocks, sep, limits):
        frame = frame.rename({c: c.strip() for c in frame.columns})
        missing = [c for c in mapping.used_columns() if c not in frame.columns]
        if missing:
            raise RowError(
                name,
                0,
                None,
                f"mapping {mapping.file} names columns not in the "
                "file: " + ", ".join(repr(c) for c in missing),
            )
        normalise = _normalise_mapped if mapping.kind != "aggregate" else _normalise_aggregate
        skip = _skipped(frame, mapping)
        kept = frame.filter(~skip)
        out = normalise(name, kept, mapping, file_month, occurrences)
        if skip.any():
            dropped = frame.filter(skip).select(pl.col("__row").alias("row"))
            out = pl.concat(
                [out, dropped.with_columns(pl.lit(True).alias("excluded"))], how="diagonal_relaxed"
            )
        yield out


def _month_from_filename(name: str, mapping: Mapping) -> str | None:
    if not mapping.date_from_filename:
        return None
    pattern = user_pattern(mapping.date_from_filename, mapping.file, "date_from_filename")
    found = pattern.search(Path(name).name)
    if not found:
        raise RowError(
            name,
            0,
            None,
            f"file name does not match date_from_filename {mapping.date_from_filename!r}",
        )
    return str(found.group(1))


def _parse_dates(
    name: str, frame: pl.DataFrame, mapping: Mapping, file_value: str | None
) -> tuple[pl.Series, pl.Series, int]:
    """(month, day-or-null, period_months) for each row, by the mapping's date_format."""
    column = mapping.date or "(file name)"
    raw = (
        _constant(file_value, frame.height, pl.String)
        if file_value is not None
        else frame[column].str.strip_chars()
    )
    check = frame.with_columns(raw.alias(column)) if file_value is not None else frame
    _fail_if(check, name, column, raw == "", "date is empty")
    fmt = mapping.date_format
    if fmt == "month":
        _fail_if(check, name, column, ~raw.str.contains(_MONTH_RE), "is not a month (YYYY-MM)")
        month = (raw + "-01").str.to_date("%Y-%m-%d")
        return month, _constant(None, frame.height, pl.Date), 1
    if fmt == "financial-year":
        ok = raw.str.contains(r"^\d{4}-\d{2}$")
        _fail_if(check, name, column, ~ok, "is not a financial year like 2012-13")
        month = (raw.str.slice(0, 4) + "-04-01").str.to_date("%Y-%m-%d")
        return month, _constant(None, frame.height, pl.Date), 12
    parsed = raw.str.to_datetime(fmt, strict=False)
    _fail_if(check, name, column, parsed.is_null(), f"is not a date in the format {fmt!r}")
    day = parsed.dt.date()
    return day.dt.truncate("1mo"), day, 1


def _coordinates(name: str, frame: pl.DataFrame, mapping: Mapping) -> dict[str, pl.Series]:
    n = frame.height
    east = np.full(n, np.nan)
    north = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    precision = np.full(n, "none", dtype=object)
    for pair in mapping.coordinates:
        xs = frame[pair.x].str.strip_chars()
        ys = frame[pair.y].str.strip_chars()
        nulls = set(mapping.null_values) | {""}
        x_num = xs.cast(pl.Float64, strict=False)
        y_num = ys.cast(pl.Float64, strict=False)
        for column, text, num in ((pair.x, xs, x_num), (pair.y, ys, y_num)):
            _fail_if(
                frame, name, column, num.is_null() & ~text.is_in(list(nulls)), "is not a number"
            )
        x = x_num.to_numpy().astype(float)
        y = y_num.to_numpy().astype(float)
        if pair.system == "bng":
            x0, y0, x1, y1 = BNG_BOUNDS
            usable = ~np.isnan(x) & ~np.isnan(y) & ~((x == 0) & (y == 0))
        else:
            x0, y0, x1, y1 = WGS84_BOUNDS
            usable = ~np.isnan(x) & ~np.isnan(y) & ~((x == 0) & (y == 0))
        outside = usable & ((x < x0) | (x > x1) | (y < y0) | (y > y1))
        _fail_if(frame, name, pair.x, pl.Series(outside), f"is outside the UK ({pair.system})")
        take = usable & np.isnan(east)
        if not take.any():
            continue
        if pair.system == "bng":
            e, nn = x[take], y[take]
            lo, la = to_wgs84(e, nn)
        else:
            lo, la = x[take], y[take]
            e, nn = to_bng(lo, la)
        east[take], north[take], lon[take], lat[take] = e, nn, lo, la
        precision[take] = pair.precision

    def s(a: np.ndarray) -> pl.Series:
        return pl.Series(a).fill_nan(None)

    return {
        "easting": s(east),
        "northing": s(north),
        "lon": s(lon),
        "lat": s(lat),
        "location_precision": pl.Series(precision.astype(str), dtype=pl.String),
    }


def _skipped(frame: pl.DataFrame, mapping: Mapping) -> pl.Series:
    """Rows the mapping declares out of scope (e.g. DEFRA's '*Total' rows)."""
    mask = pl.Series([False] * frame.height, dtype=pl.Boolean)
    for column, values in mapping.skip.items():
        mask = mask | frame[column].str.strip_chars().is_in(list(values))
    return mask


def _text(frame: pl.DataFrame, column: str | None) -> pl.Series:
    if column is None:
        return pl.Series([""] * frame.height, dtype=pl.String)
    return frame[column].str.strip_chars()


def _normalise_mapped(
    name: str, frame: pl.DataFrame, mapping: Mapping, file_month: str | None, occ: _Occurrences
) -> pl.DataFrame:
    category = (
        _text(frame, mapping.category)
        if mapping.category
        else _constant(mapping.category_constant, frame.height, pl.String)
    )
    _fail_if(frame, name, mapping.category or "category", category == "", "category is empty")
    month, day, _ = _parse_dates(name, frame, mapping, file_month)
    at = _constant(None, frame.height, pl.Time)
    if mapping.time:
        raw_time = _text(frame, mapping.time)
        at = raw_time.str.to_time(mapping.time_format, strict=False)
        _fail_if(
            frame,
            name,
            mapping.time,
            at.is_null() & (raw_time != ""),
            f"is not a time in the format {mapping.time_format!r}",
        )
    precision = np.where(
        day.is_null().to_numpy(), "month", np.where(at.is_null().to_numpy(), "day", "minute")
    )
    reference = _text(frame, mapping.reference)
    content = frame.select(pl.exclude("__row"))
    ident = identities(month, reference, content, occ)
    coords = _coordinates(name, frame, mapping)
    return pl.DataFrame(
        {
            "file": _constant(name, frame.height, pl.String),
            "row": frame["__row"],
            "ident": ident,
            "source_ref": reference,
            "source_category": category,
            "month": month,
            "occurred_on": day,
            "occurred_at": at,
            "date_precision": pl.Series(precision, dtype=pl.String),
            **coords,
            "location_text": _text(frame, mapping.location_text),
            "lsoa_given": _text(frame, mapping.lsoa),
            "outcome": _constant("", frame.height, pl.String),
            "organisation": _constant(mapping.organisation, frame.height, pl.String),
            "excluded": _constant(False, frame.height, pl.Boolean),
        },
        schema=INCIDENT_SCHEMA,
    )


def _normalise_aggregate(
    name: str,
    frame: pl.DataFrame,
    mapping: Mapping,
    file_month: str | None,
    occ: _Occurrences | None = None,
) -> pl.DataFrame:
    assert mapping.count is not None and mapping.area is not None
    category = (
        _text(frame, mapping.category)
        if mapping.category
        else _constant(mapping.category_constant, frame.height, pl.String)
    )
    area = _text(frame, mapping.area)
    _fail_if(frame, name, mapping.area, area == "", "area code is empty")
    raw_count = _text(frame, mapping.count).str.replace_all(",", "")
    count = raw_count.cast(pl.Float64, strict=False)
    declared_null = raw_count.is_in(list(mapping.null_values))
    _fail_if(frame, name, mapping.count, count.is_null() & ~declared_null, "is not a number")
    _fail_if(frame, name, mapping.count, count < 0, "is negative")
    month, _, period = _parse_dates(name, frame, mapping, file_month)
    ident = pl.concat_str(
        [pl.lit("agg:"), month.cast(pl.String), pl.lit("|"), area, pl.lit("|"), category],
        separator="",
    ).alias("ident")
    out = pl.DataFrame(
        {
            "file": _constant(name, frame.height, pl.String),
            "row": frame["__row"],
            "ident": frame.select(ident).to_series(),
            "month": month,
            "period_months": pl.Series([period] * frame.height, dtype=pl.Int64),
            "area_code": area,
            "source_category": category,
            "count": count,
            "excluded": pl.Series([False] * frame.height, dtype=pl.Boolean),
        },
        schema=AGGREGATE_SCHEMA,
    )
    dup = out["ident"].is_duplicated()
    if dup.any():
        first = int(dup.arg_true()[1])
        raise RowError(
            name,
            int(out["row"][first]),
            mapping.area,
            "a second row for the same area, category and period",
        )
    return out
