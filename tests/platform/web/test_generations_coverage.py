"""Ward generations, coverage and the cache, tried on the real Cleveland files as users would.

Expected counts come from the raw police.uk CSV files and the real ward GeoJSON with
shapely point-in-polygon, never from our code.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
import shapely
from django.urls import reverse
from shapely.geometry import Point, shape

from csp_platform.areas import services as area_services
from csp_platform.areas.models import Area
from csp_platform.core.cache import cached
from csp_platform.incidents import services
from csp_platform.incidents.services import incidents_relink_areas
from tests.conftest import DATA
from tests.platform.conftest import CLEVELAND, raw_rows
from tests.platform.web.conftest import (
    MIDDLEHAVEN,
    MIDDLESBROUGH,
    client_for,
    csp_json,
    police_files,
)
from tests.platform.web.conftest import VerifiedClient as Client

MONTHS = ("2018-11", "2018-12", "2019-01", "2019-02")
CENTRAL_2025 = "E05009857"  # Central ward, Middlesbrough, 2025 boundaries
DISTRICT = "E06000002"
MAPPINGS = Path(__file__).resolve().parents[3] / "examples" / "mappings"


@pytest.fixture
def analyst(personas) -> Client:
    return client_for(personas, "analyst")


def url(name: str) -> str:
    return reverse(name, args=[MIDDLESBROUGH])


def ward_polygon(folder: str, field: str, code: str) -> shapely.Geometry:
    data = json.loads((DATA / "boundaries" / folder / f"{DISTRICT}.geojson").read_text())
    return next(shape(f["geometry"]) for f in data["features"] if f["properties"][field] == code)


def raw_by_month(polygon: shapely.Geometry, months: tuple[str, ...] = MONTHS) -> dict[str, int]:
    """Rows of the police.uk files of these months whose point lies in the polygon."""
    shapely.prepare(polygon)
    found: Counter[str] = Counter()
    for path in police_files(months):
        for r in raw_rows(path):
            if r["Longitude"] and polygon.contains(
                Point(float(r["Longitude"]), float(r["Latitude"]))
            ):
                found[r["Month"]] += 1
    return dict(found)


def import_2025_wards() -> None:
    """The 2025 wards beside the 2013 ones (inside the test's transaction): incidents are
    re-linked to the newest generation, as `csp import-areas` does."""
    paths = [DATA / "boundaries" / "wards_2025" / f"{c}.geojson" for c in CLEVELAND]
    area_services.areas_import(paths, level="ward", after_import=incidents_relink_areas)


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("code", "generation", "folder", "field"),
    [(MIDDLEHAVEN, "2013", "wards_2013", "WD13CD"), (CENTRAL_2025, "2025", "wards_2025", "WD25CD")],
)
def test_every_surface_gives_a_ward_of_either_generation_its_own_figures(
    analyst, code, generation, folder, field
):
    import_2025_wards()
    expected = raw_by_month(ward_polygon(folder, field, code))
    total = sum(expected.values())
    assert total > 500 and set(expected) == set(MONTHS)
    period = {"from": MONTHS[0], "to": MONTHS[-1]}
    district = {**period, "area": DISTRICT, "generation": generation}

    # hub map and ranking (the district's wards of that generation), and the wards export
    features = analyst.get(url("hub:map_data"), district).json()
    assert features["generation"] == generation
    by_code = {f["properties"]["code"]: f["properties"] for f in features["features"]}
    assert by_code[code]["incidents"] == total and by_code[code]["generation"] == generation
    page = analyst.get(url("hub:hub"), district).content.decode()
    ranking = dict(re.findall(r'data-ward="(\w+)" data-incidents="(\d+)"', page))
    assert int(ranking[code]) == total and f"{generation} ward boundaries" in page
    exported = {r["code"]: r for r in csv_rows(analyst.get(url("hub:export_wards"), district))}
    assert int(exported[code]["incidents"]) == total
    assert exported[code]["generation"] == generation

    # trend of the ward itself, the trend export, and `csp counts`
    ward = {**period, "area": code, "generation": generation}
    trend = analyst.get(url("hub:trend_data"), ward).json()["months"]
    assert {p["month"]: p["incidents"] for p in trend} == expected
    trend_csv = csv_rows(analyst.get(url("hub:export_trend"), ward))
    assert {r["month"]: int(r["incidents"]) for r in trend_csv} == expected
    cli = csp_json(
        "csp_counts", "--by", "month", "--area", code, "--generation", generation,
        "--from", MONTHS[0], "--to", MONTHS[-1],
    )  # fmt: skip
    assert {r["month"]: r["incidents"] for r in cli} == expected
    by_ward = csp_json(
        "csp_counts", "--by", "ward", "--area", DISTRICT, "--generation", generation,
        "--from", MONTHS[0], "--to", MONTHS[-1],
    )  # fmt: skip
    assert {r["ward"]: r["incidents"] for r in by_ward}[code] == total

    # SIA (export) and ward profile: Jan-Feb 2019 against Nov-Dec 2018
    sia = {"area": code, "from": "2019-01", "to": "2019-02"}
    sia |= {"baseline_from": "2018-11", "baseline_to": "2018-12", "generation": generation}
    rows = csv_rows(analyst.get(url("hub:export_sia"), sia))
    themes = [r for r in rows if r["level"] == "theme"]
    assert sum(int(r["current"]) for r in themes) == expected["2019-01"] + expected["2019-02"]
    assert sum(int(r["baseline"]) for r in themes) == expected["2018-11"] + expected["2018-12"]
    profile = analyst.get(reverse("hub:ward", args=[MIDDLESBROUGH, code]), sia)
    assert profile.status_code == 200
    body = profile.content.decode()
    assert f"{generation} boundaries" in body
    chart = dict(re.findall(r'data-month="([\d-]+)" data-value="(\d+)"', body))
    assert {m: int(v) for m, v in chart.items()} == expected

    # months without data are gaps, for either generation: 2019-03 to 2023-12 here
    services.police_uk_import(police_files(("2024-01",)))
    later = raw_by_month(ward_polygon(folder, field, code), ("2019-02", "2024-01"))
    span = {"from": "2019-02", "to": "2024-01", "area": code, "generation": generation}
    trend = analyst.get(url("hub:trend_data"), span).json()["months"]
    assert (
        len(trend) == 60 and {p["month"]: p["incidents"] for p in trend if p["incidents"]} == later
    )
    assert all(p["incidents"] is None for p in trend[1:-1])
    gaps = csv_rows(analyst.get(url("hub:export_trend"), span))
    assert [r["incidents"] for r in gaps[1:-1]] == [""] * 58 and gaps[1]["note"]


NO_FIRES = "No source that records deliberate fires and malicious calls has been loaded"


@pytest.mark.parametrize(
    ("selection", "words"),
    [
        ({"theme": "deliberate-fires"}, NO_FIRES),
        ({"category": "fly-tipping"}, "No source that records fly-tipping has been loaded"),
    ],
)
def test_a_selection_no_source_covers_says_so_in_words_never_zero(analyst, selection, words):
    query = {"from": MONTHS[0], "to": MONTHS[-1], **selection}
    page = analyst.get(url("hub:hub"), query).content.decode()
    assert words in page
    assert re.search(r'id="total-incidents">No data<', page)
    assert 'data-incidents="0"' not in page and 'data-value="0"' not in page
    for name in ("hub:map_data", "hub:trend_data", "hub:points_data", "hub:hotspots_data"):
        data = analyst.get(url(name), query).json()
        assert words in data["no_data"], name
        json.dumps(data, allow_nan=False)
    features = analyst.get(url("hub:map_data"), query).json()["features"]
    assert features and all(f["properties"]["incidents"] is None for f in features)
    months = analyst.get(url("hub:trend_data"), query).json()["months"]
    assert [m["incidents"] for m in months] == [None] * 4
    for table in ("hub:export_wards", "hub:export_trend", "hub:export_categories"):
        rows = csv_rows(analyst.get(url(table), query))
        assert rows and all(words in r["note"] for r in rows if r["incidents"] == ""), table
        assert all(r["incidents"] != "0" for r in rows), table
    flag, value = next(iter(selection.items()))
    cli = csp_json(
        "csp_counts", "--by", "month", f"--{flag}", value, "--from", MONTHS[0], "--to", MONTHS[-1]
    )
    assert words in cli["no_data"] and cli["rows"] == []  # type: ignore[call-overload]


def test_the_filters_say_which_categories_have_data(analyst):
    page = analyst.get(url("hub:hub")).content.decode()
    assert re.search(r"Fly-tipping <span[^>]*>\(no data loaded\)", page)
    assert not re.search(r"Burglary <span[^>]*>\(no data loaded\)", page)


def test_an_area_import_and_a_population_import_show_on_the_next_page_load(analyst, tmp_path):
    """The cache is keyed by every write that changes a figure, not only incident imports."""
    query = {"from": MONTHS[0], "to": MONTHS[-1], "area": DISTRICT, "measure": "rate"}
    before = analyst.get(url("hub:map_data"), query).json()["features"]
    rate = {f["properties"]["code"]: f["properties"]["rate"] for f in before}
    assert rate[MIDDLEHAVEN] is not None
    page = analyst.get(url("hub:hub")).content.decode()
    assert "Riverside quarter" not in page

    # an area import: a custom area appears in the filters on the next load
    ward = Area.objects.get(code=MIDDLEHAVEN, generation="2013")
    outline = shapely.from_wkb(bytes(ward.geometry_wkb)).buffer(-0.002)
    feature = {"type": "Feature", "properties": {"code": "RIVER-1", "name": "Riverside quarter"}}
    feature["geometry"] = json.loads(shapely.to_geojson(outline))
    path = Path(tmp_path) / "custom.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    area_services.areas_import([path], level="custom", code_field="code", name_field="name")
    assert "Riverside quarter" in analyst.get(url("hub:hub")).content.decode()

    # a population import: every resident count doubled, so every rate halves
    census = DATA / "population" / "census2011_lsoa_population_households.csv"
    doubled = Path(tmp_path) / "census.csv"
    with census.open(encoding="utf-8-sig", newline="") as src, doubled.open("w", newline="") as out:
        reader, writer = csv.reader(src), csv.writer(out)
        header = next(reader)
        writer.writerow(header)
        persons = header.index("Persons")
        for row in reader:
            row[persons] = str(2 * int(row[persons].replace(",", "")))
            writer.writerow(row)
    area_services.population_import(doubled)
    after = analyst.get(url("hub:map_data"), query).json()["features"]
    halved = {f["properties"]["code"]: f["properties"]["rate"] for f in after}
    assert halved[MIDDLEHAVEN] == pytest.approx(rate[MIDDLEHAVEN] / 2, abs=0.01)


def test_fly_tipping_and_deliberate_fires_in_2024_say_so_on_every_surface(analyst):
    """The real demo's selections: police.uk records neither; DEFRA's annual fly-tipping
    returns stop in 2022-23. Words on the page, the endpoints, the CSV and `csp counts`."""
    services.police_uk_import(police_files(("2024-01", "2024-02")))
    mapping = services.mapping_load(MAPPINGS / "defra-flytipping-by-la.yaml")
    defra = DATA / "flytipping" / "defra_flytipping_incidents_by_la_2012-13_to_2022-23.csv"
    services.mapped_import([defra], mapping=mapping)
    period = {"from": "2024-01", "to": "2024-02"}
    cases = [
        ({"category": "fly-tipping"}, "No source that records fly-tipping has been loaded"),
        ({"theme": "deliberate-fires"}, NO_FIRES),
    ]
    for selection, words in cases:
        query = {**period, **selection}
        page = analyst.get(url("hub:hub"), query).content.decode()
        assert words in page and 'id="total-incidents">No data<' in page
        assert 'data-incidents="0"' not in page and 'data-value="0"' not in page
        for name in ("hub:map_data", "hub:trend_data", "hub:points_data", "hub:hotspots_data"):
            assert words in analyst.get(url(name), query).json()["no_data"], name
        trend = analyst.get(url("hub:trend_data"), query).json()["months"]
        assert [m["incidents"] for m in trend] == [None, None]
        rows = csv_rows(analyst.get(url("hub:export_wards"), query))
        assert rows and all(r["incidents"] == "" and words in r["note"] for r in rows)
        flag, value = next(iter(selection.items()))
        cli = csp_json(
            "csp_counts",
            "--by",
            "month",
            f"--{flag}",
            value,
            "--from",
            "2024-01",
            "--to",
            "2024-02",
        )
        assert words in cli["no_data"]  # type: ignore[call-overload]
    # The police did record burglaries in 2024: figures, not words.
    query = {**period, "category": "burglary"}
    assert analyst.get(url("hub:trend_data"), query).json()["no_data"] is None
    # A year DEFRA's returns cover: no incident source, and the returns listed apart.
    query = {"from": "2021-04", "to": "2022-03", "category": "fly-tipping"}
    words = "No incident source that records fly-tipping has been loaded for these months"
    assert words in analyst.get(url("hub:trend_data"), query).json()["no_data"]
    rows = csv_rows(analyst.get(url("hub:export_categories"), query))
    assert [r["category"] for r in rows if r["aggregate_count"]] == ["fly-tipping"]


def test_cached_figures_are_never_served_to_another_audience(personas):
    """Two partnerships asking for the same page and filters, one after the other on a warm
    cache: each sees its own wards, and the cache keeps one value per audience."""
    ours, theirs = Client(), Client()
    ours.force_login(personas["analyst"])  # Middlesbrough
    theirs.force_login(personas["outsider"])  # Hartlepool
    query = {"from": MONTHS[0], "to": MONTHS[-1]}
    mine = ours.get(url("hub:map_data"), query).json()["features"]
    other = theirs.get(reverse("hub:map_data", args=["hartlepool"]), query).json()["features"]
    middlesbrough = {a.code for a in Area.objects.filter(level="ward", parent__code=DISTRICT)}
    assert {f["properties"]["code"] for f in mine} == middlesbrough
    assert not {f["properties"]["code"] for f in other} & middlesbrough
    assert MIDDLEHAVEN not in theirs.get(reverse("hub:hub", args=["hartlepool"])).content.decode()
    assert cached(["same"], lambda: "first", audience="a") == "first"
    assert cached(["same"], lambda: "second", audience="b") == "second"
    assert cached(["same"], lambda: "third", audience="a") == "first"
