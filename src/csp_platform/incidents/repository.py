"""Bulk SQL for the import path: the one place that talks to the driver directly.

Everything else uses the ORM. Incidents are written with ``executemany`` on SQLite and
``COPY`` into a staging table on PostgreSQL; both end in ``INSERT ... ON CONFLICT DO NOTHING``
on (source, ident), which is what makes imports idempotent. Monthly counts are rebuilt with
``INSERT ... SELECT ... GROUP BY`` for the (source, month) pairs an import touched.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import polars as pl
from django.db import connection

from csp_platform.incidents.models import AggregateRecord, AreaMonthCount, Incident

INCIDENT_COLUMNS = (
    "source_id", "batch_id", "ident", "source_ref", "source_category", "category_id", "month",
    "occurred_on", "occurred_at", "date_precision", "lon", "lat", "easting", "northing",
    "location_precision", "location_text", "lsoa_given", "outcome", "lsoa_id", "ward_id",
    "district_id",
)  # fmt: skip
AGGREGATE_COLUMNS = (
    "source_id", "batch_id", "ident", "month", "period_months", "area_code_given", "area_id",
    "source_category", "category_id", "count",
)  # fmt: skip
_PG_TYPES = {
    pl.Int64: "bigint",
    pl.Float64: "double precision",
    pl.String: "text",
    pl.Date: "date",
    pl.Time: "time",
}


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _insert(table: str, columns: Sequence[str], frame: pl.DataFrame) -> int:
    """Insert rows, skipping any whose (source, ident) is stored already; returns rows added."""
    frame = frame.select(columns)
    with connection.cursor() as cursor:
        if _is_postgres():
            return _insert_postgres(cursor, table, columns, frame)
        as_text = frame.with_columns(
            [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if t in (pl.Date, pl.Time)]
        )
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks}) '  # noqa: S608
            "ON CONFLICT (source_id, ident) DO NOTHING",
            as_text.iter_rows(),
        )
        return int(cursor.rowcount)


def _insert_postgres(
    cursor: object, table: str, columns: Sequence[str], frame: pl.DataFrame
) -> int:
    stage = f"stage_{table}"
    types = ", ".join(f"{c} {_PG_TYPES.get(frame.schema[c], 'text')}" for c in columns)  # type: ignore[call-overload]
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({types}) ON COMMIT DROP")  # type: ignore[attr-defined]
    cursor.execute(f"TRUNCATE {stage}")  # type: ignore[attr-defined]
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="\\N", quote_style="necessary")
    raw = cursor.cursor  # type: ignore[attr-defined]  # the psycopg cursor under Django's wrapper
    with raw.copy(
        f"COPY {stage} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    ) as copy:
        copy.write(buffer.getvalue())
    cursor.execute(  # type: ignore[attr-defined]
        f'INSERT INTO "{table}" ({", ".join(columns)}) SELECT {", ".join(columns)} FROM {stage} '  # noqa: S608
        "ON CONFLICT (source_id, ident) DO NOTHING"
    )
    return int(cursor.rowcount)  # type: ignore[attr-defined]


def incidents_insert(frame: pl.DataFrame) -> int:
    return _insert(Incident._meta.db_table, INCIDENT_COLUMNS, frame)


def aggregates_insert(frame: pl.DataFrame) -> int:
    return _insert(AggregateRecord._meta.db_table, AGGREGATE_COLUMNS, frame)


def monthly_counts_rebuild(source_id: int, months: Sequence[date]) -> None:
    """Recount the incident rows of one source for the given months, at every area level."""
    if not months:
        return
    counts = AreaMonthCount._meta.db_table
    incidents = Incident._meta.db_table
    marks = ", ".join(["%s"] * len(months))
    params = [source_id, *months]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {counts} WHERE source_id = %s AND kind = 'incident' "  # noqa: S608
            f"AND month IN ({marks})",
            params,
        )
        for area_column in ("NULL", "lsoa_id", "ward_id", "district_id"):
            where = "" if area_column == "NULL" else f" AND {area_column} IS NOT NULL"
            group = "" if area_column == "NULL" else f", {area_column}"
            cursor.execute(
                f"INSERT INTO {counts} (area_id, month, period_months, source_id, category_id, "  # noqa: S608
                f"kind, n) SELECT {area_column}, month, 1, source_id, category_id, 'incident', "
                f"COUNT(*) FROM {incidents} WHERE source_id = %s AND month IN ({marks}){where} "
                f"GROUP BY month, source_id, category_id{group}",
                params,
            )


def aggregate_counts_rebuild(source_id: int, rows: pl.DataFrame) -> None:
    """Replace the aggregate-return counts of one source with ``rows``
    (columns area_id, month, period_months, category_id, n)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {AreaMonthCount._meta.db_table} WHERE source_id = %s "  # noqa: S608
            "AND kind = 'aggregate'",
            [source_id],
        )
    AreaMonthCount.objects.bulk_create(
        [
            AreaMonthCount(
                area_id=r["area_id"],
                month=r["month"],
                period_months=r["period_months"],
                source_id=source_id,
                category_id=r["category_id"],
                kind="aggregate",
                n=r["n"],
            )
            for r in rows.iter_rows(named=True)
        ],
        batch_size=5000,
    )


def incident_areas_update(frame: pl.DataFrame) -> None:
    """Set lsoa/ward/district for incidents by id (columns id, lsoa_id, ward_id, district_id)."""
    table = Incident._meta.db_table
    with connection.cursor() as cursor:
        if _is_postgres():
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS stage_area_update (id bigint, "
                "lsoa_id bigint, ward_id bigint, district_id bigint) ON COMMIT DROP"
            )
            cursor.execute("TRUNCATE stage_area_update")
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=False, null_value="\\N")
            with cursor.cursor.copy(
                "COPY stage_area_update FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            ) as copy:
                copy.write(buffer.getvalue())
            cursor.execute(
                f"UPDATE {table} AS i SET lsoa_id = s.lsoa_id, ward_id = s.ward_id, "  # noqa: S608
                "district_id = s.district_id FROM stage_area_update AS s WHERE i.id = s.id"
            )
            return
        cursor.executemany(
            f"UPDATE {table} SET lsoa_id = %s, ward_id = %s, district_id = %s WHERE id = %s",  # noqa: S608
            frame.select("lsoa_id", "ward_id", "district_id", "id").iter_rows(),
        )
