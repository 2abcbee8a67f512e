"""SQLite bulk writes through a staging database (docs/decisions/0005-places.md).

Python's ``sqlite3`` binds every value of every row from a Python object, which held an
import's main thread for most of its time. Instead a block of rows is written, in C, by the
ADBC SQLite driver from the polars frame (Arrow memory) into a small database file in a
scratch folder. That file's bytes are loaded into the ``csp_stage`` schema of the import's own
connection (``sqlite3.Connection.deserialize``) and copied with one ``INSERT ... SELECT``,
inside the import's transaction. Both steps run without the GIL, so the read-ahead thread
keeps working meanwhile.

``csp_stage`` is an empty in-memory schema attached to every SQLite connection when it
opens: SQLite cannot attach a database inside a transaction.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc
import polars as pl

STAGE = "csp_stage"
_STAGED = "block"


def attach_stage(sender: object, connection: Any, **kwargs: object) -> None:
    """Attach the empty ``csp_stage`` schema to a new SQLite connection."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ATTACH DATABASE ':memory:' AS {STAGE}")


def _scratch_dir() -> str:
    """Memory-backed /dev/shm where the machine has it, else the temporary folder."""
    shm = Path("/dev/shm")  # noqa: S108  # a private file per call (mkstemp)
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _text_dates(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and times as ISO text, as Django stores them in SQLite."""
    return frame.with_columns(
        [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t in (pl.Date, pl.Time)]
    )


def image(frame: pl.DataFrame) -> bytes:
    """The bytes of a database file holding ``frame`` as the table ``block``, written by the
    ADBC driver in C (dates and times as ISO text). Safe to call from any thread."""
    fd, path = tempfile.mkstemp(prefix="csp-stage-", suffix=".sqlite3", dir=_scratch_dir())
    os.close(fd)
    try:
        os.remove(path)  # ADBC creates the database file itself
        with adbc.connect(path, autocommit=True) as staging, staging.cursor() as cursor:
            # a scratch file, read once: no journal, no syncing
            cursor.execute("PRAGMA journal_mode = OFF")
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.adbc_ingest(_STAGED, _text_dates(frame), mode="create")
        return Path(path).read_bytes()
    finally:
        Path(path).unlink(missing_ok=True)


def insert_staged(
    raw: Any, table: str, columns: Sequence[str], frame: pl.DataFrame, tail: str = ""
) -> int:
    """``INSERT INTO table (columns)`` the rows of ``frame`` through the raw ``sqlite3``
    connection ``raw``, inside its transaction; returns the rows inserted. ``tail`` is
    appended to the statement, e.g. ``ON CONFLICT (...) DO NOTHING``."""
    if frame.height == 0:
        return 0
    return insert_image(raw, table, columns, image(frame.select(columns)), tail)


def insert_image(
    raw: Any, table: str, columns: Sequence[str], staged: bytes, tail: str = ""
) -> int:
    """:func:`insert_staged` of rows already made into a staging database by :func:`image`
    (in another thread, say)."""
    raw.deserialize(staged, name=STAGE)
    names = ", ".join(f'"{c}"' for c in columns)
    where = " WHERE true" if tail else ""  # SQLite needs it to parse an upsert after SELECT
    cursor = raw.execute(
        f'INSERT INTO main."{table}" ({names}) '  # noqa: S608  (our own table and columns)
        f"SELECT {names} FROM {STAGE}.{_STAGED}{where} {tail}"
    )
    raw.deserialize(_EMPTY, name=STAGE)  # let go of the block's memory
    return int(cursor.rowcount)


def _empty_database() -> bytes:
    """The image of a one-page database (SQLite cannot serialize one with no pages)."""
    import sqlite3

    with sqlite3.connect(":memory:") as empty:
        empty.execute("CREATE TABLE empty (x)")
        return empty.serialize()


_EMPTY = _empty_database()
