"""The counts per place and month behind the SIA's repeat locations and sub-categories
(issue 8 item 9) always equal a count of the incident rows: after an import, a re-import of
an overlapping file, a crosswalk change and re-map, and a relink of places to new areas.

The expected figures are counted here from the incident table with a plain GROUP BY (and,
for the first import, from the raw CSV files), never read from the table under test."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import shapely
from django.db.models import Count, Sum

from csp_platform.analysis import selectors
from csp_platform.incidents import parsed, services
from csp_platform.incidents.models import (
    AreaSubcategoryCount,
    Crosswalk,
    Incident,
    PlaceMonthCount,
)
from csp_platform.incidents.reference import crosswalk_save
from csp_platform.incidents.scope import FULL_ACCESS, scope_resolve
from tests.conftest import DATA
from tests.platform.conftest import CLEVELAND, police_uk_category, raw_rows

pytestmark = pytest.mark.django_db

KEYS = ("place_id", "month", "source_id", "category_id", "source_category")


def table() -> Counter[tuple[object, ...]]:
    return Counter(
        {
            tuple(row[:-1]): row[-1]
            for row in PlaceMonthCount.objects.values_list(*KEYS, "n").order_by()
        }
    )


def from_rows() -> Counter[tuple[object, ...]]:
    return Counter(
        {
            tuple(row[:-1]): row[-1]
            for row in Incident.objects.values_list(*KEYS).annotate(c=Count("id")).order_by()
        }
    )


AREA_KEYS = ("month", "source_id", "category_id", "source_category")


def area_table() -> Counter[tuple[object, ...]]:
    rows = AreaSubcategoryCount.objects.values_list("area_id", *AREA_KEYS, "n").order_by()
    return Counter({tuple(row[:-1]): row[-1] for row in rows})


def area_rows() -> Counter[tuple[object, ...]]:
    out: Counter[tuple[object, ...]] = Counter()
    for link in ("ward_id", "district_id"):
        rows = Incident.objects.exclude(**{link: None}).values_list(link, *AREA_KEYS)
        out.update({tuple(r[:-1]): r[-1] for r in rows.annotate(c=Count("id")).order_by()})
    return out


def same() -> bool:
    return table() == from_rows() and area_table() == area_rows()


def shoplifting_into_other_theft() -> int:
    """A new version of the reference crosswalk, re-mapped: the rows it changed."""
    reference = Crosswalk.objects.filter(scheme="police-uk", organisation=None)
    latest = reference.order_by("-version").first()
    assert latest is not None
    mapped = dict(latest.entries.values_list("source_value", "category__code"))
    crosswalk_save("police-uk", {**mapped, "Shoplifting": "other-theft"}, [], by_user="test")
    return services.crosswalk_remap("police-uk")


def test_the_place_counts_equal_the_incident_rows_after_imports_and_a_crosswalk_change(
    cleveland_areas, cleveland_files, tmp_path
):
    first, second, third = cleveland_files[:3]
    (code,) = services.police_uk_import([first, second]).sources
    assert same() and area_table()
    # and both equal the raw files: every row of the two months, per crime type
    raw = Counter((r["Month"], r["Crime type"]) for p in (first, second) for r in raw_rows(p))
    ours = PlaceMonthCount.objects.filter(source__code=code)
    by_type = ours.values_list("month", "source_category").annotate(t=Sum("n")).order_by()
    assert {(f"{m:%Y-%m}", c): t for m, c, t in by_type} == dict(raw)

    # a re-import changes nothing; an overlapping file adds only the new month
    services.police_uk_import([first, second])
    overlap = tmp_path / "custom-download.csv"
    lines = second.read_text(encoding="utf-8").splitlines(keepends=True)
    rest = third.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
    overlap.write_text("".join(lines) + "".join(rest))
    services.police_uk_import([overlap])
    assert same()
    stored = Incident.objects.filter(source__code=code).count()
    assert ours.aggregate(t=Sum("n"))["t"] == stored == sum(raw.values()) + len(rest)

    # the reference crosswalk moves one crime type to another category: the counts follow
    assert shoplifting_into_other_theft() > 0
    shoplifting = PlaceMonthCount.objects.filter(source_category="Shoplifting")
    assert set(shoplifting.values_list("category__code", flat=True)) == {"other-theft"}
    assert same()

    # places linked again to the areas (after an area import) keep their counts
    services.incidents_relink_areas()
    assert same()


def test_the_sia_details_equal_a_count_of_the_rows(cleveland_areas, cleveland_files):
    """Top repeat locations and sub-categories, read from the place counts, equal the
    incident rows of the district counted per snap point and per crime type."""
    services.police_uk_import(cleveland_files)
    shoplifting_into_other_theft()  # so that one category holds two crime types
    district = "E06000002"  # Middlesbrough
    months = sorted({r["Month"] for p in cleveland_files for r in raw_rows(p)})
    period = (date.fromisoformat(months[-2] + "-01"), date.fromisoformat(months[-1] + "-01"))
    baseline = (date.fromisoformat(months[0] + "-01"), date.fromisoformat(months[1] + "-01"))
    scope = scope_resolve(FULL_ACCESS, district, period=period)
    report = selectors.sia_for_area(scope, period, baseline)

    rows = Incident.objects.filter(district__code=district, month__range=period)
    points = Counter(
        {
            (text, lon, lat): n
            for text, lon, lat, n in rows.filter(place__lon__isnull=False)
            .values_list("place__location_text", "place__lon", "place__lat")
            .annotate(c=Count("id"))
            .order_by()
        }
    )
    top = [((t.location, t.lon, t.lat), t.incidents) for t in report.top_locations]
    assert top and all(points[key] == n for key, n in top)
    assert top[0][1] == max(points.values())
    assert report.repeats.n_records == sum(points.values())
    assert report.repeats.n_repeat_keys == sum(1 for n in points.values() if n >= 2)

    per_type = Counter(dict(rows.values_list("source_category").annotate(c=Count("id")).order_by()))
    shown = {s.subcategory: s.current for s in report.subcategories}
    assert set(shown) == {"Shoplifting", "Other theft"}
    assert shown == {sub: per_type[sub] for sub in shown}


def raw_places(paths: list[Path]) -> Counter[tuple[object, ...]]:
    """(longitude, latitude, location, LSOA code, month, crime type, canonical category) ->
    rows, counted from the CSV files with the csv module."""
    to_code = police_uk_category()
    return Counter(
        (
            float(r["Longitude"]),
            float(r["Latitude"]),
            r["Location"].strip(),
            r["LSOA code"].strip(),
            r["Month"],
            r["Crime type"],
            to_code[r["Crime type"]],
        )
        for p in paths
        for r in raw_rows(p)
    )


def table_places(sources: list[str]) -> Counter[tuple[object, ...]]:
    """The same, from PlaceMonthCount and the fields of each count's place, for the given
    sources (other tests' session data, such as the Northumbria series, stay out)."""
    rows = (
        PlaceMonthCount.objects.filter(source__code__in=sources)
        .values_list(
            "place__lon",
            "place__lat",
            "place__location_text",
            "place__lsoa_given",
            "month",
            "source_category",
            "category__code",
        )
        .annotate(t=Sum("n"))
    )
    out: Counter[tuple[object, ...]] = Counter()
    for lon, lat, text, lsoa, month, crime_type, code, n in rows.order_by():
        out[(lon, lat, text, lsoa, f"{month:%Y-%m}", crime_type, code)] += n
    return out


def raw_areas(paths: list[Path]) -> Counter[tuple[object, ...]]:
    """(ward or district code, month, crime type) -> rows: each raw point tested with
    shapely against the wards and districts of the raw GeoJSON files; on a shared edge the
    first area by code (the rule in docs/data-model.md)."""
    rows = [r for p in paths for r in raw_rows(p)]
    points = shapely.points([(float(r["Longitude"]), float(r["Latitude"])) for r in rows])
    out: Counter[tuple[object, ...]] = Counter()
    for folder, field in (("wards_2013", "WD13CD"), ("districts_2011", "LAD11CD")):
        features = [
            f
            for c in CLEVELAND
            for f in json.loads((DATA / "boundaries" / folder / f"{c}.geojson").read_text())[
                "features"
            ]
        ]
        found = np.full(len(rows), "", dtype=object)
        for f in sorted(features, key=lambda f: f["properties"][field]):
            inside = shapely.covers(shapely.geometry.shape(f["geometry"]), points) & (found == "")
            found[inside] = f["properties"][field]
        out.update((code, r["Month"], r["Crime type"]) for code, r in zip(found, rows) if code)
    return out


def table_areas(sources: list[str]) -> Counter[tuple[object, ...]]:
    ours = AreaSubcategoryCount.objects.filter(source__code__in=sources)
    rows = ours.values_list("area__code", "month", "source_category")
    return Counter(
        {(code, f"{m:%Y-%m}", t): n for code, m, t, n in rows.annotate(s=Sum("n")).order_by()}
    )


def test_the_count_tables_equal_the_raw_files_after_a_first_and_an_overlapping_import(
    cleveland_areas, cleveland_files, tmp_path, monkeypatch
):
    """A first import adds to the place and ward/district sub-category counts from its
    blocks in memory (it no longer recounts the stored rows, docs/performance.md); an
    overlapping import adds its new rows to months that already hold counts. Both tables
    must equal the raw CSV rows counted here with the csv module and shapely. Small blocks
    make each month several blocks, and a small ``COUNTS_HELD_ROWS`` makes the import sum
    its held counts on the way; a small ``IN_MEMORY_BYTES`` sends most parsed blocks
    through the scratch folder."""
    monkeypatch.setattr(services, "COUNTS_HELD_ROWS", 2_000)
    monkeypatch.setattr(parsed, "IN_MEMORY_BYTES", 1_000_000)  # later blocks via the disk
    first, second, third = cleveland_files[:3]
    lines = third.read_text(encoding="utf-8").splitlines(keepends=True)
    half = tmp_path / "2018-12-half-street.csv"  # the first half of a month...
    half.write_text("".join(lines[: len(lines) // 2]))
    overlap = tmp_path / "custom-download.csv"  # ...then two whole months, in one file
    overlap.write_text(second.read_text(encoding="utf-8") + "".join(lines[1:]), encoding="utf-8")

    sources = services.police_uk_import([first, half], block_bytes=256 * 1024).sources
    assert table_places(sources) == raw_places([first, half])
    assert table_areas(sources) == raw_areas([first, half])

    result = services.police_uk_import([overlap], block_bytes=256 * 1024)
    assert result.sources == sources
    assert result.rows_new == sum(1 for _ in raw_rows(second)) + len(lines) - len(lines) // 2
    assert table_places(sources) == raw_places([first, second, third])
    assert table_areas(sources) == raw_areas([first, second, third])
    assert same()
