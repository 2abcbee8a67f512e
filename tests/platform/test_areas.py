"""Boundaries and population from the real ONS files."""

from __future__ import annotations

import csv
import json

import pytest

from csp_platform.areas import services
from csp_platform.areas.models import Area
from csp_platform.core.errors import ImportRejected
from tests.platform.conftest import CLEVELAND

pytestmark = pytest.mark.django_db


def test_ons_fields_generation_and_parent_district_are_detected(cleveland_areas):
    wards = Area.objects.filter(level="ward")
    assert wards.count() == 11 + 23 + 22 + 26  # SOURCES.md section 2
    assert set(wards.values_list("generation", flat=True)) == {"2013"}
    burn_valley = Area.objects.get(code="E05008942")
    assert burn_valley.name == "Burn Valley" and burn_valley.parent.code == "E06000001"
    assert Area.objects.filter(level="lsoa", parent__isnull=True).count() == 0


def test_population_is_the_census_sum_at_every_level(cleveland_areas, data_dir):
    census = {}
    with (data_dir / "population/census2011_lsoa_population_households.csv").open() as fh:
        for row in csv.reader(fh):
            if row[2] in CLEVELAND:
                census.setdefault(row[2], 0)
                census[row[2]] += int(row[9].replace(",", ""))
    for code, people in census.items():
        assert Area.objects.get(level="district", code=code).population == people
    wards = sum(Area.objects.filter(level="ward").values_list("population", flat=True))
    assert wards == sum(census.values())  # every LSOA counted once, in one ward


def test_a_second_import_updates_in_place(cleveland_areas, data_dir):
    result = services.areas_import(
        [data_dir / "boundaries/wards_2013/E06000001.geojson"], level="ward"
    )
    assert (result.created, result.updated) == (0, 11)


def test_custom_areas_need_their_fields_named(tmp_path, data_dir):
    source = json.loads((data_dir / "boundaries/wards_2013/E06000001.geojson").read_text())
    for feature in source["features"]:
        feature["properties"] = {"csg": feature["properties"]["WD13NM"], "id": "x"}
    path = tmp_path / "csg.geojson"
    path.write_text(json.dumps(source))
    with pytest.raises(ImportRejected, match="cannot tell which properties hold the custom"):
        services.areas_import([path], level="custom")
    with pytest.raises(ImportRejected, match="code x appears twice"):
        services.areas_import([path], level="custom", code_field="id", name_field="csg")
    assert not Area.objects.filter(level="custom").exists()


def test_a_broken_geojson_is_rejected_by_name(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(ImportRejected, match="broken.geojson: not a readable GeoJSON"):
        services.areas_import([path], level="ward")
