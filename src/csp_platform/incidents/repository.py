"""Bulk SQL for the import path: the one place that talks to the driver directly.

Everything else uses the ORM. An import first reads the identities it already holds for the
months in hand (one range scan of the unique index: identities lead with ``YYYYMM``), keeps
only the new rows, and writes them through a staging database on SQLite (``staging.py``) or
with ``COPY`` on PostgreSQL.
Monthly counts, and the SIA's counts per place and per ward or district and sub-category, are
then *added to* from the new rows, not recounted. The unique index on
(source, ident) still stands behind this, so a duplicate can never be stored.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
from django.db import connection

from csp_platform.incidents import staging
from csp_platform.incidents.models import (
    AggregateRecord,
    AreaMonthCount,
    AreaSubcategoryCount,
    Incident,
    Place,
    PlaceMonthCount,
)
from csp_platform.incidents.places import LINK_COLUMNS, PLACE_COLUMNS, PLACE_FIELDS, PlaceIndex

INCIDENT_COLUMNS = (
    "source_id", "batch_id", "ident", "source_ref", "source_category", "category_id", "month",
    "occurred_on", "occurred_at", "date_precision", "place_id", "outcome", "ward_id",
    "district_id",
)  # fmt: skip
# Columns the database fills itself when an INSERT leaves them out: a block of rows that all
# hold the default (police.uk has no dates and is month precision) does not send them.
INCIDENT_DEFAULTS: dict[str, object] = {
    "category_id": None,
    "occurred_on": None,
    "occurred_at": None,
    "date_precision": "month",
    "ward_id": None,
    "district_id": None,
}
AGGREGATE_COLUMNS = (
    "source_id", "batch_id", "ident", "month", "period_months", "area_code_given", "area_id",
    "source_category", "category_id", "count",
)  # fmt: skip
# Area levels whose incident counts the monthly table keeps (besides the whole source).
MONTHLY_LEVELS = ("ward_id", "district_id")
COUNT_COLUMNS = ("area_id", "month", "period_months", "source_id", "category_id", "kind", "n")
_PG_TYPES = {
    pl.Int64: "bigint",
    pl.Float64: "double precision",
    pl.String: "text",
    pl.Date: "date",
    pl.Time: "time",
}
# SQLite page cache for an import's connection (64 MB, a constant: memory must not grow with
# the file). Identities lead with the month, so inserts touch a month's part of the unique
# index; 64 MB imported 5 million rows as fast as 256 MB did (docs/performance.md).
SQLITE_IMPORT_CACHE_KIB = 65_536
# Rows written by one COPY or one staged INSERT (an import's blocks are smaller; its count
# tables are written in parts of this size).
BULK_ROWS = 65_536


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def import_begin() -> None:
    """Prepare this connection for a bulk import, inside its transaction.

    Imports run one at a time, so that the identities and place ids an import hands out
    cannot clash with another's. PostgreSQL: a transaction-level advisory lock, so a second
    import waits for the first to commit. SQLite: imports already hold the write lock
    (``BEGIN IMMEDIATE``); a larger page cache keeps the unique index in memory.
    """
    with connection.cursor() as cursor:
        if _is_postgres():
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [7_177])
        else:
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")


# Tables a first load on PostgreSQL fills without their secondary indexes, built at the end.
_BULK_MODELS = (Incident, PlaceMonthCount, AreaSubcategoryCount)


def bulk_load_begin() -> bool:
    """PostgreSQL, incident table empty (the first, historical load): drop the unique
    constraint and the secondary indexes of the incidents and of the SIA's two count
    tables for the load, to be built once, sorted and in parallel, by
    :func:`bulk_load_end` (PostgreSQL's own advice for populating a table; about 1.2 s of
    3.3 s on 400,000 rows for the incidents, 0.3 s for the counts). Readers of the tables
    wait for the import to commit. SQLite gains nothing from this (measured), so keeps its
    indexes. Returns whether the indexes were dropped."""
    if not _is_postgres() or any(m.objects.exists() for m in _BULK_MODELS):
        return False
    with connection.schema_editor(atomic=False) as editor:
        for model in _BULK_MODELS:
            for constraint in model._meta.constraints:
                editor.remove_constraint(model, constraint)
            for index in model._meta.indexes:
                editor.remove_index(model, index)
    return True


def bulk_load_end() -> None:
    """Build what :func:`bulk_load_begin` dropped. A duplicate identity (which the import
    never writes) would fail here and roll the import back."""
    with connection.schema_editor(atomic=False) as editor:
        for model in _BULK_MODELS:
            for constraint in model._meta.constraints:
                editor.add_constraint(model, constraint)
            for index in model._meta.indexes:
                editor.add_index(model, index)


def places_stored() -> tuple[pl.DataFrame, int]:
    """Every stored place (its fields, id and area links; see :meth:`PlaceIndex.empty`),
    and the next free id."""
    columns = [*PLACE_FIELDS, "id", *LINK_COLUMNS]
    rows = list(Place.objects.values_list(*columns))
    known = pl.DataFrame(rows, schema=PlaceIndex.empty().schema, orient="row")
    top = known["place_id"].max()
    return known, 1 + (int(top) if isinstance(top, int) else 0)


def places_insert(frame: pl.DataFrame, raw: Any = None) -> None:
    """Write new places (columns ``PLACE_COLUMNS``, ids handed out by the import).
    ``raw``: see :func:`raw_connection`."""
    places_bulk(frame).write(raw)


def places_bulk(frame: pl.DataFrame) -> Bulk:
    """:func:`places_insert`, made ready to write."""
    return Bulk(Place._meta.db_table, PLACE_COLUMNS, frame)


def places_sequence_sync() -> None:
    """PostgreSQL: move the place id sequence past the ids an import handed out itself."""
    if not _is_postgres():
        return
    table = Place._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )


def months_stored() -> set[tuple[int, date]]:
    """(source id, month) pairs that hold incidents, from the monthly counts table (which
    every import keeps equal to the incident rows): an import need not look up identities
    for any other month."""
    return set(
        AreaMonthCount.objects.filter(kind=AreaMonthCount.Kind.INCIDENT, area__isnull=True)
        .values_list("source_id", "month")
        .distinct()
    )


def idents_stored(source_id: int, first: date, last: date) -> pl.Series:
    """Identities already stored for a source between two months (inclusive)."""
    lo, hi = first.strftime("%Y%m"), last.strftime("%Y%m") + "~"
    table = Incident._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ident FROM {table} WHERE source_id = %s AND ident >= %s AND ident < %s",  # noqa: S608
            [source_id, lo, hi],
        )
        return pl.Series("ident", [r[0] for r in cursor.fetchall()], dtype=pl.String)


def raw_connection() -> Any:
    """The driver's own connection under Django's (``sqlite3`` or ``psycopg``), in the
    current transaction. The import's writer thread uses it: Django's connection objects
    belong to the thread that opened them."""
    connection.ensure_connection()
    return connection.connection


class Bulk:
    """Rows made ready to append to a table, in parts of at most ``BULK_ROWS`` rows (so
    that the copies each step makes stay small): CSV text for ``COPY`` on PostgreSQL, a
    staging database (``staging.image``) on SQLite. Made in one thread, the importing one,
    while the writer thread writes what was made before (:meth:`write`), which then only
    hands the bytes to the database."""

    def __init__(self, table: str, columns: Sequence[str], frame: pl.DataFrame) -> None:
        self.table, self.columns = table, list(columns)
        self.postgres = _is_postgres()
        frame = frame.select(self.columns)
        self.parts = [
            _csv(part) if self.postgres else staging.image(part)
            for part in frame.iter_slices(BULK_ROWS)
            if part.height
        ]

    def write(self, raw: Any = None) -> None:
        """Append the rows, in the current transaction. ``raw``: see :func:`raw_connection`."""
        raw = raw_connection() if raw is None else raw
        for part in self.parts:
            if self.postgres:
                _copy_csv(raw, self.table, self.columns, part)
            else:
                staging.insert_image(raw, self.table, self.columns, part)


def _bulk_insert(table: str, columns: Sequence[str], frame: pl.DataFrame, raw: Any = None) -> None:
    """Append rows: ``COPY`` on PostgreSQL, the staging database on SQLite."""
    Bulk(table, columns, frame).write(raw)


def _csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="\\N", quote_style="necessary")
    return buffer.getvalue()


def _copy_csv(raw: Any, table: str, columns: Sequence[str], text: bytes) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        copy.write(text)


def _copy(raw: Any, table: str, columns: Sequence[str], frame: pl.DataFrame) -> None:
    """``COPY`` a frame into a table through the raw ``psycopg`` connection."""
    _copy_csv(raw, table, columns, _csv(frame.select(columns)))


def _sent_columns(frame: pl.DataFrame) -> list[str]:
    """The incident columns worth sending: those not at their database default in every row."""
    sent = []
    for column in INCIDENT_COLUMNS:
        values = frame[column]
        if column in INCIDENT_DEFAULTS:
            default = INCIDENT_DEFAULTS[column]
            at_default = values.is_null() if default is None else values.eq_missing(default)
            if at_default.all():
                continue
        sent.append(column)
    return sent


def incidents_insert_new(frame: pl.DataFrame, raw: Any = None) -> int:
    """Insert rows known to be new (see :func:`idents_stored`); returns rows written.
    ``raw``: see :func:`raw_connection`.

    The unique index rejects a duplicate with an error that rolls the whole import back,
    so a mistake here can never store an incident twice.
    """
    incidents_bulk(frame).write(raw)
    return frame.height


def incidents_bulk(frame: pl.DataFrame) -> Bulk:
    """:func:`incidents_insert_new`, made ready to write."""
    return Bulk(Incident._meta.db_table, _sent_columns(frame), frame)


def aggregates_insert(frame: pl.DataFrame) -> int:
    """Insert aggregate counts, skipping cells already stored; returns rows added."""
    table = AggregateRecord._meta.db_table
    frame = frame.select(AGGREGATE_COLUMNS)
    with connection.cursor() as cursor:
        if _is_postgres():
            stage = f"stage_{table}"
            types = ", ".join(
                f"{c} {_PG_TYPES.get(frame.schema[c], 'text')}"  # type: ignore[call-overload]
                for c in AGGREGATE_COLUMNS
            )
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({types}) ON COMMIT DROP")
            cursor.execute(f"TRUNCATE {stage}")
            _copy(connection.connection, stage, AGGREGATE_COLUMNS, frame)
            cols = ", ".join(AGGREGATE_COLUMNS)
            cursor.execute(
                f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM {stage} '  # noqa: S608
                "ON CONFLICT (source_id, ident) DO NOTHING"
            )
            return int(cursor.rowcount)
        return staging.insert_staged(
            connection.connection,
            table,
            AGGREGATE_COLUMNS,
            frame,
            tail="ON CONFLICT (source_id, ident) DO NOTHING",
        )


def monthly_counts_add(source_id: int, kind: str, counts: pl.DataFrame) -> None:
    """Add counts (columns area_id, month, period_months, category_id, n) to the monthly
    table for one source: the stored rows of those months are read, summed with the new
    counts and written back, in the caller's transaction."""
    if counts.height == 0:
        return
    months = sorted(counts["month"].unique().to_list())
    table = AreaMonthCount._meta.db_table
    stored = pl.DataFrame(
        list(
            AreaMonthCount.objects.filter(
                source_id=source_id, kind=kind, month__in=months
            ).values_list("area_id", "month", "period_months", "category_id", "n")
        ),
        schema={
            "area_id": pl.Int64,
            "month": pl.Date,
            "period_months": pl.Int64,
            "category_id": pl.Int64,
            "n": pl.Float64,
        },
        orient="row",
    )
    keys = ["area_id", "month", "period_months", "category_id"]
    total = (
        pl.concat([stored, counts.select(*keys, pl.col("n").cast(pl.Float64))])
        .group_by(keys)
        .agg(pl.col("n").sum())
        .with_columns(pl.lit(source_id).alias("source_id"), pl.lit(kind).alias("kind"))
    )
    marks = ", ".join(["%s"] * len(months))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE source_id = %s AND kind = %s AND month IN ({marks})",  # noqa: S608
            [source_id, kind, *months],
        )
    _bulk_insert(table, COUNT_COLUMNS, total)


def monthly_counts_rebuild(source_id: int, months: Sequence[date]) -> None:
    """Recount the incident rows of one source for the given months, at every area level
    (used after areas change; imports add to the counts instead)."""
    if not months:
        return
    counts = AreaMonthCount._meta.db_table
    incidents = Incident._meta.db_table
    marks = ", ".join(["%s"] * len(months))
    params: list[int | date] = [source_id, *months]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {counts} WHERE source_id = %s AND kind = 'incident' "  # noqa: S608
            f"AND month IN ({marks})",
            params,
        )
        for area_column in ("NULL", *MONTHLY_LEVELS):
            where = "" if area_column == "NULL" else f" AND {area_column} IS NOT NULL"
            group = "" if area_column == "NULL" else f", {area_column}"
            cursor.execute(
                f"INSERT INTO {counts} (area_id, month, period_months, source_id, category_id, "  # noqa: S608
                f"kind, n) SELECT {area_column}, month, 1, source_id, category_id, 'incident', "
                f"COUNT(*) FROM {incidents} WHERE source_id = %s AND month IN ({marks}){where} "
                f"GROUP BY month, source_id, category_id{group}",
                params,
            )
    subcategory_counts_rebuild(source_id, months)


# The keys of the two SIA count tables besides their area or place and the source.
DETAIL_KEYS = ("month", "category_id", "source_category")
_DETAIL_SCHEMA: dict[str, Any] = {
    "month": pl.Date,
    "category_id": pl.Int64,
    "source_category": pl.String,
    "n": pl.Int64,
}


def place_counts_add(source_id: int, counts: pl.DataFrame) -> None:
    """Add counts of newly stored incidents (columns place_id, month, category_id,
    source_category, n) to :class:`PlaceMonthCount` for one source, in the caller's
    transaction. An import counts its new rows from its blocks in memory, so a first import
    never groups the stored rows (docs/performance.md)."""
    _counts_add(PlaceMonthCount, "place_id", source_id, counts)


def subcategory_counts_add(source_id: int, counts: pl.DataFrame) -> None:
    """Add counts of newly stored incidents (columns area_id, month, category_id,
    source_category, n; wards and districts) to :class:`AreaSubcategoryCount` for one
    source, in the caller's transaction."""
    _counts_add(AreaSubcategoryCount, "area_id", source_id, counts)


def _counts_add(model: Any, target: str, source_id: int, counts: pl.DataFrame) -> None:
    """Add ``counts`` to ``model``'s table: months that already hold counts of the source
    are read, summed with the new counts, deleted and written back; the others (all of them
    in a first import) are written straight away."""
    if counts.height == 0:
        return
    keys = [target, *DETAIL_KEYS]
    schema = {target: pl.Int64, **_DETAIL_SCHEMA}
    counts = counts.select(pl.col(c).cast(t) for c, t in schema.items())
    months = sorted(counts["month"].unique().to_list())
    held = model.objects.filter(source_id=source_id, month__in=months)
    stored = pl.DataFrame(list(held.values_list(*keys, "n")), schema=schema, orient="row")
    if stored.height:
        held_months = sorted(stored["month"].unique().to_list())
        marks = ", ".join(["%s"] * len(held_months))
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE source_id = %s "  # noqa: S608
                f"AND month IN ({marks})",
                [source_id, *held_months],
            )
        counts = pl.concat([stored, counts]).group_by(keys).agg(pl.col("n").sum())
    # in the order of the (place or area, month) index: its pages fill one after another
    counts = counts.sort(keys).with_columns(pl.lit(source_id, dtype=pl.Int64).alias("source_id"))
    _bulk_insert(model._meta.db_table, [*keys, "source_id", "n"], counts)


def counts_bulk_new(
    source_id: int, monthly: pl.DataFrame, places: pl.DataFrame, areas: pl.DataFrame
) -> list[Bulk]:
    """The counts of months of a source that held no incidents before this import (so no
    counts either: nothing to read or add to), made ready to write as
    :func:`monthly_counts_add`, :func:`place_counts_add` and :func:`subcategory_counts_add`
    would write them (the import's writer thread writes them)."""
    source = pl.lit(source_id, dtype=pl.Int64).alias("source_id")
    monthly = monthly.with_columns(source, pl.lit("incident").alias("kind"))
    bulks = [Bulk(AreaMonthCount._meta.db_table, COUNT_COLUMNS, monthly)]
    for model, target, counts in (
        (PlaceMonthCount, "place_id", places),
        (AreaSubcategoryCount, "area_id", areas),
    ):
        keys = [target, *DETAIL_KEYS]
        counts = counts.sort(keys).with_columns(source)
        bulks.append(Bulk(model._meta.db_table, [*keys, "source_id", "n"], counts))
    return bulks


def place_counts_rebuild(source_id: int, months: Sequence[date]) -> None:
    """Recount the incident rows of one source for the given months per place, month,
    category and the source's own category (:class:`PlaceMonthCount`), in the caller's
    transaction: after a crosswalk re-map changes categories (imports add to the counts
    instead, :func:`place_counts_add`)."""
    _counts_rebuild(PlaceMonthCount, "place_id", ["place_id"], source_id, months)


def subcategory_counts_rebuild(source_id: int, months: Sequence[date]) -> None:
    """Recount the incident rows of one source for the given months per ward and district,
    category and the source's own category (:class:`AreaSubcategoryCount`), in the caller's
    transaction: after a crosswalk re-map or a relink (imports add to the counts instead,
    :func:`subcategory_counts_add`)."""
    keys = list(MONTHLY_LEVELS)
    _counts_rebuild(AreaSubcategoryCount, "area_id", keys, source_id, months, not_null=True)


def _counts_rebuild(
    model: Any,
    target: str,
    keys: Sequence[str],
    source_id: int,
    months: Sequence[date],
    *,
    not_null: bool = False,
) -> None:
    """Delete ``model``'s counts of the source's months, then count the incident rows again
    grouped by each of ``keys`` (incident columns) into ``target`` (the model's column)."""
    if not months:
        return
    counts = model._meta.db_table
    incidents = Incident._meta.db_table
    marks = ", ".join(["%s"] * len(months))
    params: list[int | date] = [source_id, *months]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {counts} WHERE source_id = %s AND month IN ({marks})",  # noqa: S608
            params,
        )
        for key in keys:
            present = f" AND {key} IS NOT NULL" if not_null else ""
            cursor.execute(
                f"INSERT INTO {counts} ({target}, month, source_id, category_id, "  # noqa: S608
                f"source_category, n) SELECT {key}, month, source_id, category_id, "
                f"source_category, COUNT(*) FROM {incidents} WHERE source_id = %s "
                f"AND month IN ({marks}){present} "
                f"GROUP BY {key}, month, source_id, category_id, source_category",
                params,
            )


def count_tables_analyze() -> None:
    """PostgreSQL: refresh the planner's statistics of the tables the SIA's details read,
    after an import changed them in bulk (about 0.1 s). Without them, until autovacuum
    gets to it, the planner takes the new rows for a handful and picks plans that cost the
    ward profile twice its time."""
    if not _is_postgres():
        return
    with connection.cursor() as cursor:
        for model in (PlaceMonthCount, AreaSubcategoryCount, Place):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def aggregate_counts_replace(source_id: int, rows: pl.DataFrame) -> None:
    """Replace the aggregate-return counts of one source with ``rows``
    (columns area_id, month, period_months, category_id, n)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {AreaMonthCount._meta.db_table} WHERE source_id = %s "  # noqa: S608
            "AND kind = 'aggregate'",
            [source_id],
        )
    monthly_counts_add(source_id, "aggregate", rows)


def place_areas_update(frame: pl.DataFrame) -> None:
    """Set the area links of places by id (columns id, lsoa_id, ward_id, district_id), then
    copy each place's ward and district to its incidents."""
    places = Place._meta.db_table
    incidents = Incident._meta.db_table
    with connection.cursor() as cursor:
        if _is_postgres():
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS stage_area_update (id bigint, "
                "lsoa_id bigint, ward_id bigint, district_id bigint) ON COMMIT DROP"
            )
            cursor.execute("TRUNCATE stage_area_update")
            _copy(
                connection.connection,
                "stage_area_update",
                ("id", "lsoa_id", "ward_id", "district_id"),
                frame,
            )
            cursor.execute(
                f"UPDATE {places} AS p SET lsoa_id = s.lsoa_id, ward_id = s.ward_id, "  # noqa: S608
                "district_id = s.district_id FROM stage_area_update AS s WHERE p.id = s.id"
            )
        else:
            cursor.executemany(
                f"UPDATE {places} SET lsoa_id = %s, ward_id = %s, district_id = %s "  # noqa: S608
                "WHERE id = %s",
                frame.select("lsoa_id", "ward_id", "district_id", "id").rows(),
            )
        # Both databases take UPDATE ... FROM (SQLite since 3.33).
        cursor.execute(
            f"UPDATE {incidents} SET ward_id = p.ward_id, district_id = p.district_id "  # noqa: S608
            f"FROM {places} AS p WHERE p.id = {incidents}.place_id"
        )
