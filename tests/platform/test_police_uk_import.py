"""police.uk imports: counts equal the raw files, re-imports change nothing, bad files change
nothing, and the report says what is missing."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from io import StringIO

import pytest
import shapely
from django.core.management import call_command
from shapely.geometry import Point

from csp_platform.areas.models import Area
from csp_platform.core.errors import ImportRejected
from csp_platform.incidents import selectors, services
from csp_platform.incidents.models import AreaMonthCount, ImportBatch, Incident
from csp_platform.incidents.scope import FULL_ACCESS, scope_resolve
from tests.platform.conftest import count_rows, raw_police_counts, raw_rows

pytestmark = pytest.mark.django_db


def csp(*args: str) -> str:
    """Run a csp command as an analyst would, returning what it printed."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts_json(*args: str) -> list[dict[str, object]]:
    return json.loads(csp("csp_counts", *args, "--format", "json"))


def test_counts_by_month_and_type_equal_the_raw_rows(cleveland_areas, cleveland_files):
    csp("csp_import_incidents", "--format", "police-uk", str(cleveland_files[0].parents[1]))
    expected = raw_police_counts(cleveland_files)
    got = {
        (r["month"], r["category"]): r["incidents"] for r in counts_json("--by", "month,category")
    }
    assert got == dict(expected)
    assert sum(got.values()) == 54_100  # SOURCES.md: 54,100 Cleveland rows in shared/


def test_counts_by_ward_equal_a_plain_point_in_polygon_count(cleveland_areas, cleveland_files):
    month = cleveland_files[0]
    csp("csp_import_incidents", "--format", "police-uk", str(month))
    # A snap point exactly on a shared edge belongs to the first ward by code (the rule in
    # docs/data-model.md); the independent count follows the same stated rule.
    wards = list(Area.objects.filter(level="ward").order_by("code"))
    polygons = [(w.code, shapely.from_wkb(bytes(w.geometry_wkb))) for w in wards]
    expected: Counter[str] = Counter()
    for row in raw_rows(month):
        point = Point(float(row["Longitude"]), float(row["Latitude"]))
        for code, polygon in polygons:  # the slow, obvious way, independent of the importer
            if polygon.covers(point):
                expected[code] += 1
                break
    got = {r["ward"]: r["incidents"] for r in counts_json("--by", "ward")}
    assert got == dict(expected)
    # and the rows outside every ward are exactly the ones the report calls outside
    report = selectors.quality_report()[0]
    assert report.outside_areas == 9_352 - sum(expected.values())


def test_a_second_import_and_an_overlapping_file_change_nothing(
    cleveland_areas, cleveland_files, tmp_path
):
    first, second, third = cleveland_files[:3]
    services.police_uk_import([first, second])
    before = Incident.objects.count()

    def monthly(**where: object) -> list[tuple[object, ...]]:
        rows = AreaMonthCount.objects.filter(**where).values_list(
            "area_id", "month", "category_id", "n"
        )
        return sorted(rows, key=repr)

    counts_before = monthly()
    again = services.police_uk_import([first, second])
    assert again.rows_new == 0 and again.rows_duplicate == before
    # a "custom download" holding months 2 and 3 in one file overlaps the first import
    overlap = tmp_path / "custom-download.csv"
    lines = second.read_text(encoding="utf-8").splitlines(keepends=True)
    overlap.write_text(
        "".join(lines) + "".join(third.read_text(encoding="utf-8").splitlines(keepends=True)[1:])
    )
    result = services.police_uk_import([overlap])
    third_rows = sum(1 for _ in raw_rows(third))
    assert result.rows_new == third_rows
    assert Incident.objects.count() == before + third_rows
    assert monthly(month__lt="2018-12-01") == [c for c in counts_before if str(c[1]) < "2018-12-01"]


def test_identical_asb_rows_are_distinct_incidents(cleveland_areas, tmp_path):
    header = (
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Crime type,Last outcome category,Context\n"
    )
    asb = (
        ",2019-01,Cleveland Police,Cleveland Police,-1.235660,54.710526,On or near Dobson "
        "Place,E01011954,Hartlepool 001A,Anti-social behaviour,,\n"
    )
    path = tmp_path / "2019-01-cleveland-street.csv"
    path.write_text(header + asb + asb + asb)
    assert services.police_uk_import([path]).rows_new == 3
    assert services.police_uk_import([path]).rows_new == 0
    path.write_text(header + asb * 4)  # a re-published month with one more identical report
    assert services.police_uk_import([path]).rows_new == 1
    assert Incident.objects.count() == 4


@pytest.mark.parametrize(
    ("row", "change", "message"),
    [
        (
            100,
            lambda r: r.replace(",2018-10,", ",2018-13,"),
            "row 100 (line 101), column 'Month': month is not YYYY-MM",
        ),
        (
            250,
            lambda r: r.rsplit(",", 3)[0] + "\n",
            "row 250 (line 251): expected 12 fields, found 9",
        ),
        (
            7,
            lambda r: r.replace(",54.", ",5x4.", 1),
            "row 7 (line 8), column 'Latitude': is not a number",
        ),
    ],
)
def test_a_corrupted_file_is_rejected_whole_and_changes_nothing(
    cleveland_areas, cleveland_files, tmp_path, row, change, message
):
    services.police_uk_import([cleveland_files[1]])
    before = (Incident.objects.count(), ImportBatch.objects.count(), AreaMonthCount.objects.count())
    good, bad = tmp_path / "good-street.csv", tmp_path / "2018-10-cleveland-street.csv"
    shutil.copy(cleveland_files[2], good)
    lines = cleveland_files[0].read_text(encoding="utf-8").splitlines(keepends=True)
    lines[row] = change(lines[row])
    bad.write_text("".join(lines))
    with pytest.raises(ImportRejected) as caught:
        services.police_uk_import([good, bad])  # the good file is not imported either
    assert str(bad) in str(caught.value) and message in str(caught.value)
    assert "Nothing was imported" in str(caught.value)
    after = (Incident.objects.count(), ImportBatch.objects.count(), AreaMonthCount.objects.count())
    assert after == before


def test_the_command_reports_a_bad_file_in_one_line(cleveland_areas, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Month,Crime type\n2019-01,Burglary\n")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="missing columns 'Crime ID'"):
        csp("csp_import_incidents", "--format", "police-uk", str(bad))


def test_dry_run_checks_everything_and_writes_nothing(cleveland_areas, cleveland_files):
    out = csp("csp_import_incidents", "--format", "police-uk", "--dry-run", str(cleveland_files[0]))
    assert "dry run (nothing written)" in out and "would add 9352 new" in out
    assert Incident.objects.count() == 0 and ImportBatch.objects.count() == 0


def test_quality_report_names_the_missing_month_inside_the_span(cleveland_areas, data_dir):
    north = data_dir / "police" / "northumbria"
    services.police_uk_import([north / "2021-12", north / "2022-02"])
    report = {r.code: r for r in selectors.quality_report()}["police-uk-northumbria-police"]
    assert report.months_missing == ["2022-01"]
    assert report.first_month == "2021-12" and report.last_month == "2022-02"
    # SOURCES.md: 25 + 39 rows without a location in these two months; kept, not dropped
    assert report.without_location == 25 + 39
    assert report.rows == 13_281 + 14_196
    # Northumbria is outside Cleveland's imported areas: every located row is "outside"
    assert report.outside_areas == report.rows - report.without_location


def test_counts_inside_an_area_agree_between_the_monthly_table_and_the_rows(
    cleveland_areas, cleveland_files
):
    services.police_uk_import(cleveland_files[:2])
    fast = count_rows(by=("ward", "category"), area_code="E06000003")
    assert fast.path == "monthly"
    slow = selectors._counts_from_incidents(
        scope_resolve(FULL_ACCESS, "E06000003"), selectors.CountQuery(by=("ward", "category"))
    )
    assert [(r["ward"], r["category"], r["incidents"]) for r in fast.rows] == [
        (r["ward"], r["category"], r["incidents"]) for r in slow.rows
    ]
    assert {r["ward"][:6] for r in fast.rows} == {"E05001"}  # Redcar & Cleveland wards only


def test_a_shuffled_multi_month_file_read_in_small_blocks_stores_each_row_once(
    cleveland_areas, cleveland_files, tmp_path
):
    import random

    lines = [
        line
        for p in cleveland_files[:3]
        for line in p.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
    ]
    random.Random(3).shuffle(lines)  # months interleaved, as in a custom download
    shuffled = tmp_path / "custom-download.csv"
    shuffled.write_text(
        cleveland_files[0].read_text(encoding="utf-8").splitlines(True)[0] + "".join(lines)
    )
    first = services.police_uk_import([shuffled], block_bytes=256 * 1024)
    assert first.rows_new == len(lines) == 9_352 + 8_529 + 7_675
    again = services.police_uk_import(cleveland_files[:3], block_bytes=64 * 1024)
    assert again.rows_new == 0
    expected = raw_police_counts(cleveland_files[:3])
    got = {
        (r["month"], r["category"]): r["incidents"] for r in counts_json("--by", "month,category")
    }
    assert got == dict(expected)
