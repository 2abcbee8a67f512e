"""The import's moving parts: places, the writer thread and the first-load index rebuild.

Counts against the raw files are in test_police_uk_import.py; these tests look at how the
rows got there, on a real database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from django.db import IntegrityError, connection
from django.db.models import Count
from polars.testing import assert_frame_equal

from csp_analytics import io as readers
from csp_platform.incidents import repository, services
from csp_platform.incidents.models import (
    AreaSubcategoryCount,
    Incident,
    Place,
    PlaceMonthCount,
)
from csp_platform.incidents.parsed import parse_first
from csp_platform.incidents.places import PLACE_FIELDS, place_key
from csp_platform.incidents.services import _Writer
from tests.platform.conftest import raw_rows

pytestmark = pytest.mark.django_db


def test_incidents_at_the_same_map_point_share_one_place(cleveland_areas, cleveland_files):
    def points(files: list) -> set[tuple[str, ...]]:  # type: ignore[type-arg]
        return {
            (r["Longitude"], r["Latitude"], r["Location"], r["LSOA code"])
            for f in files
            for r in raw_rows(f)
        }

    def places_used(files: list) -> int:  # type: ignore[type-arg]
        months = {next(raw_rows(f))["Month"] + "-01" for f in files}
        return (
            Incident.objects.filter(source__code="police-uk-cleveland-police", month__in=months)
            .values("place_id")
            .distinct()
            .count()
        )

    services.police_uk_import(cleveland_files[:2])
    assert places_used(cleveland_files[:2]) == len(points(cleveland_files[:2]))
    # A later month re-uses the places it shares with them and makes only new ones.
    services.police_uk_import(cleveland_files[2:3])
    assert places_used(cleveland_files[:3]) == len(points(cleveland_files[:3]))
    assert not Place.objects.values(*PLACE_FIELDS).annotate(n=Count("id")).filter(n__gt=1)
    place = Place.objects.exclude(lon=None).first()
    assert place.key == place_key(tuple(getattr(place, f) for f in PLACE_FIELDS))
    # The ward and district an incident carries are its place's.
    mismatched = [
        (i.ward_id, i.place.ward_id)
        for i in Incident.objects.select_related("place")[:2_000]
        if i.ward_id != i.place.ward_id or i.district_id != i.place.district_id
    ]
    assert mismatched == []


def test_a_failed_write_in_the_writer_thread_is_raised_in_the_importing_thread(
    cleveland_areas,
):
    writer = _Writer(repository.raw_connection())

    def bad_write(raw: object) -> None:
        raw.execute("INSERT INTO no_such_table VALUES (1)")  # type: ignore[attr-defined]

    def good_write(raw: object) -> None:  # never reached
        raise AssertionError("a write after a failed one ran")

    writer.run(bad_write)
    with pytest.raises(Exception, match="no_such_table"):
        writer.drain()
    with pytest.raises(Exception, match="no_such_table"):
        writer.run(good_write)
    writer.close()


def test_a_bad_row_late_in_an_import_leaves_no_incidents_and_no_places(
    cleveland_areas, cleveland_files, tmp_path
):
    bad = tmp_path / "2018-12-cleveland-street.csv"
    text = cleveland_files[1].read_text(encoding="utf-8").splitlines(keepends=True)
    fields = text[500].split(",")
    fields[1] = "Dec 2018"  # the Month column
    bad.write_text("".join(text[:500]) + ",".join(fields) + "".join(text[501:]))
    before = (Incident.objects.count(), Place.objects.count())
    with pytest.raises(services.ImportRejected, match=r"row 500 \(line 501\), column 'Month'"):
        # the good first file is written by the writer thread before the bad one is read
        services.police_uk_import([cleveland_files[0], bad])
    assert (Incident.objects.count(), Place.objects.count()) == before


def test_after_a_first_load_every_index_is_there(cleveland_areas, cleveland_files):
    """PostgreSQL drops the unique constraint and indexes of the incidents and of the SIA's
    two count tables for a first load and builds them at the end
    (repository.bulk_load_begin); SQLite keeps them throughout."""
    tables = [m._meta.db_table for m in (Incident, PlaceMonthCount, AreaSubcategoryCount)]

    def indexes() -> dict[str, set[str]]:
        with connection.cursor() as cursor:
            return {t: set(connection.introspection.get_constraints(cursor, t)) for t in tables}

    expected = indexes()
    assert {"incident_unique_per_source"} <= expected[tables[0]]
    assert all(len(names) >= 3 for names in expected.values())  # key and two indexes at least
    assert not Incident.objects.exists()
    services.police_uk_import(cleveland_files[:1])
    assert indexes() == expected
    # ... and the rebuilt unique constraint still refuses a second copy
    row = Incident.objects.first()
    row.pk = None
    with pytest.raises(IntegrityError, match="(?i)unique"):
        row.save()


def test_parsed_blocks_in_memory_and_on_disk_come_back_as_read(cleveland_files, settings, tmp_path):
    """Parsed blocks are kept in memory up to a budget and the rest go to the scratch
    folder (incidents/parsed.py); either way each block comes back exactly as the reader
    gave it, a file given twice comes back twice, and the folder is removed afterwards."""
    settings.VAR_DIR = tmp_path
    files = [cleveland_files[0], *cleveland_files[:3]]  # the first one twice

    def read(path: Path) -> Iterator[pl.DataFrame]:
        return readers.read_police_uk(path, block_bytes=256 * 1024, bng=False)

    with parse_first(files, read, in_memory_bytes=3_000_000) as held:
        assert held.held_bytes > 0 and held.spilled > 0  # both kinds
        assert list((tmp_path / "parsing").glob("import-*/*.arrow"))
        for path in files:
            expected = list(read(path))
            got = list(held.frames(path))
            assert len(got) == len(expected) > 1
            for a, b in zip(got, expected, strict=True):
                assert_frame_equal(a, b)
        assert [{m for _, m in months} for months in held.months] == [
            {date.fromisoformat(p.parent.name + "-01")} for p in files
        ]
    assert not list((tmp_path / "parsing").iterdir())
