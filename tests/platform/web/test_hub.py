"""The hub's figures: the map, chart, tables and CSV files agree with `csp counts` for the
same filters, read the monthly table, keep gaps as gaps, and every export is recorded."""

from __future__ import annotations

import csv
import io
import json
import re

import polars as pl
import pytest
import shapely
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from csp_platform.areas.models import Area
from csp_platform.core.models import AuditEvent
from csp_platform.incidents import repository
from csp_platform.incidents.models import AreaMonthCount, Incident, LocationPrecision, Place
from tests.platform.web.conftest import (
    MIDDLEHAVEN,
    MIDDLESBROUGH,
    MONTHS,
    client_for,
    csp_json,
    police_files,
)
from tests.platform.web.conftest import VerifiedClient as Client

FILTERS = {"area": MIDDLEHAVEN, "category": "burglary", "from": "2018-11", "to": "2019-02"}


@pytest.fixture
def analyst(personas) -> Client:
    return client_for(personas, "analyst")


def hub_url(name: str) -> str:
    return reverse(name, args=[MIDDLESBROUGH])


def by_month(rows: list[dict]) -> dict[str, int]:
    return {r["month"]: r["incidents"] for r in rows}


def test_map_chart_tables_and_csv_agree_with_csp_counts(analyst):
    cli = ["--from", "2018-11", "--to", "2019-02", "--category", "burglary"]
    ward_rows = csp_json("csp_counts", "--by", "ward", "--area", "E06000002", *cli)
    expected_ward = next(r["incidents"] for r in ward_rows if r["ward"] == MIDDLEHAVEN)
    expected_months = by_month(csp_json("csp_counts", "--by", "month", "--area", MIDDLEHAVEN, *cli))
    expected_cats = {
        r["category"]: r["incidents"]
        for r in csp_json("csp_counts", "--by", "category", "--area", MIDDLEHAVEN, *cli)
    }
    assert expected_ward > 0 and expected_ward == sum(expected_months.values())

    features = analyst.get(hub_url("hub:map_data"), FILTERS).json()["features"]
    assert [(f["properties"]["code"], f["properties"]["incidents"]) for f in features] == [
        (MIDDLEHAVEN, expected_ward)
    ]
    trend = analyst.get(hub_url("hub:trend_data"), FILTERS).json()["months"]
    assert by_month(trend) == expected_months

    page = analyst.get(hub_url("hub:hub"), FILTERS).content.decode()
    chart = dict(re.findall(r'data-month="([\d-]+)" data-value="(\d+)"', page))
    assert {m: int(v) for m, v in chart.items()} == expected_months
    table = dict(
        re.findall(
            r'<tr class="govuk-table__row" data-category="([\w-]+)" data-incidents="(\d+)"', page
        )
    )
    assert {c: int(n) for c, n in table.items()} == expected_cats
    ranking = re.findall(r'data-ward="(\w+)" data-incidents="(\d+)"', page)
    assert ranking == [(MIDDLEHAVEN, str(expected_ward))]
    assert "2013 ward boundaries" in page

    exported = list(
        csv.DictReader(
            io.StringIO(analyst.get(hub_url("hub:export_wards"), FILTERS).content.decode())
        )
    )
    assert [(r["code"], int(r["incidents"]), r["generation"]) for r in exported] == [
        (MIDDLEHAVEN, expected_ward, "2013")
    ]


def test_the_whole_partnership_ranks_every_ward_and_rates_are_per_1000_residents(analyst):
    data = analyst.get(
        hub_url("hub:map_data"), {"from": "2019-01", "to": "2019-02", "measure": "rate"}
    ).json()
    props = [f["properties"] for f in data["features"]]
    wards = Area.objects.filter(level="ward", parent__code="E06000002")
    assert {p["code"] for p in props} == set(wards.values_list("code", flat=True))
    expected = {
        r["ward"]: r["incidents"]
        for r in csp_json(
            "csp_counts",
            "--by",
            "ward",
            "--area",
            "E06000002",
            "--from",
            "2019-01",
            "--to",
            "2019-02",
        )
    }
    for p in props:
        assert p["incidents"] == expected.get(p["code"], 0)
        assert p["rate"] == pytest.approx(1000 * p["incidents"] / p["population"], abs=0.006)
        assert p["value"] == p["rate"]
    assert [p["rank"] for p in props] == list(range(1, len(props) + 1))
    rates = [p["rate"] for p in props]
    assert rates == sorted(rates, reverse=True)
    assert data["generation"] == "2013" and data["classes"]


def test_months_without_data_are_gaps_not_zeros(analyst):
    # A month the police have not published: no row at all for December 2018.
    Incident.objects.filter(month="2018-12-01").delete()
    AreaMonthCount.objects.filter(month="2018-12-01").delete()
    period = {"from": "2018-11", "to": "2019-02", "category": "bicycle-theft", "area": MIDDLEHAVEN}
    months = analyst.get(hub_url("hub:trend_data"), period).json()["months"]
    assert [m["incidents"] is None for m in months] == [False, True, False, False]
    page = analyst.get(hub_url("hub:hub"), period).content.decode()
    assert page.count('data-gap="1"') == 1 and "3 of 4" in page


def test_the_data_endpoints_read_the_monthly_table_not_the_incidents(analyst):
    for name in ("hub:map_data", "hub:trend_data"):
        with CaptureQueriesContext(connection) as queries:
            assert analyst.get(hub_url(name), FILTERS).status_code == 200
        assert not [q["sql"] for q in queries if "incidents_incident" in q["sql"]], name


def test_points_are_only_published_snap_points(analyst):
    snap = Incident.objects.filter(ward__code=MIDDLEHAVEN, month="2019-02-01").first()
    exact = Incident.objects.get(pk=snap.pk)
    exact.pk, exact.ident = None, "test-exact-location"
    exact.place = Place.objects.create(
        key="test-exact-location",
        location_precision=LocationPrecision.EXACT,
        lon=snap.place.lon + 0.0012345,
        lat=snap.place.lat + 0.0012345,
        ward=snap.place.ward,
        district=snap.place.district,
    )
    exact.save()
    repository.monthly_counts_rebuild(exact.source_id, [exact.month])  # as an import would
    data = analyst.get(
        hub_url("hub:points_data"), {"area": MIDDLEHAVEN, "from": "2019-02", "to": "2019-02"}
    ).json()
    coords = {(p["lon"], p["lat"]) for p in data["points"]}
    assert (round(exact.place.lon, 6), round(exact.place.lat, 6)) not in coords
    assert data["not_published"] == 1
    snaps = Incident.objects.filter(
        ward__code=MIDDLEHAVEN, month="2019-02-01", place__location_precision="snap"
    )
    assert sum(p["incidents"] for p in data["points"]) == snaps.count()


def test_every_export_is_recorded_with_who_what_and_the_filters(analyst, personas):
    before = AuditEvent.objects.count()
    response = analyst.get(hub_url("hub:export_categories"), FILTERS)
    assert response["Content-Disposition"].startswith("attachment;")
    record = AuditEvent.objects.order_by("-seq").first()
    assert AuditEvent.objects.count() == before + 1
    assert (record.actor_id, record.role, record.action, record.detail["kind"]) == (
        personas["analyst"].pk,
        "analyst",
        "disclosure",
        "categories",
    )
    assert record.detail["point_level"] is False
    assert record.detail["parameters"] == {
        "area": MIDDLEHAVEN,
        "category": ["burglary"],
        "from": "2018-11",
        "to": "2019-02",
    }
    assert (
        record.organisation == "Cleveland Police"
        and record.recipient == "analyst (Cleveland Police)"
        and record.detail["rows"] == len(response.content.decode().strip().splitlines()) - 1
    )
    analyst.get(hub_url("hub:export_points"), FILTERS)
    assert AuditEvent.objects.order_by("-seq").first().detail["point_level"] is True


def test_csv_cells_cannot_carry_spreadsheet_formulas(analyst):
    Area.objects.filter(code=MIDDLEHAVEN).update(name='=HYPERLINK("http://x","y")')
    body = analyst.get(hub_url("hub:export_wards"), FILTERS).content.decode()
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body


def test_a_councillor_sees_aggregates_but_no_point_layer(personas):
    client = Client()
    client.force_login(personas["councillor"])
    page = client.get(hub_url("hub:hub")).content.decode()
    assert 'data-points-url=""' in page and 'data-hotspots-url=""' in page
    assert "export/wards.csv" in page and "export/points.csv" not in page


def test_unknown_filter_values_are_refused_with_a_message(analyst):
    response = analyst.get(hub_url("hub:map_data"), {"category": "no-such-category"})
    assert response.status_code == 400 and "category" in response.json()["errors"]
    page = analyst.get(hub_url("hub:hub"), {"category": "no-such-category"})
    assert page.status_code == 400 and b"Some filters could not be used" in page.content


def raw_counts_inside(polygon, months: tuple[str, ...]) -> dict[str, int]:
    """Incidents per month inside ``polygon`` (lon/lat), counted from the police.uk files
    themselves with polars and shapely: none of the importer or the hub's code."""
    frame = pl.concat(
        pl.read_csv(
            path, columns=["Crime ID", "Month", "Longitude", "Latitude"], infer_schema_length=0
        )
        for path in police_files(months)
    ).filter(pl.col("Longitude").is_not_null())
    # one incident per Crime ID (police.uk repeats an ID now and then); rows without one
    # (anti-social behaviour) are each an incident
    with_id = frame.filter(pl.col("Crime ID").is_not_null()).unique("Crime ID")
    frame = pl.concat([with_id, frame.filter(pl.col("Crime ID").is_null())])
    inside = shapely.intersects_xy(
        polygon,
        frame["Longitude"].cast(pl.Float64).to_numpy(),
        frame["Latitude"].cast(pl.Float64).to_numpy(),
    )
    months_inside = frame.filter(pl.Series(inside))["Month"].to_list()
    return {m: months_inside.count(m) for m in months if m in months_inside}


def test_a_custom_area_is_counted_from_its_polygon(analyst):
    ward = Area.objects.get(code=MIDDLEHAVEN)
    polygon = shapely.from_wkb(bytes(ward.geometry_wkb)).buffer(-0.002)
    custom = Area.objects.create(
        level="custom",
        code="CUSTOM-TOWN",
        name="Town centre",
        generation="2024",
        parent=ward.parent,
        geometry_wkb=shapely.to_wkb(polygon),
        min_lon=ward.min_lon,
        min_lat=ward.min_lat,
        max_lon=ward.max_lon,
        max_lat=ward.max_lat,
    )
    filters = {"area": custom.code, "from": "2018-11", "to": "2019-02"}
    expected = raw_counts_inside(polygon, MONTHS)
    whole_ward = raw_counts_inside(shapely.from_wkb(bytes(ward.geometry_wkb)), MONTHS)
    assert len(expected) == 4 and sum(expected.values()) < sum(whole_ward.values())
    assert by_month(analyst.get(hub_url("hub:trend_data"), filters).json()["months"]) == expected
    page = analyst.get(hub_url("hub:hub"), filters).content.decode()
    assert "Town centre" in page and "whole wards overlapping" in page


def test_the_hotspot_layer_is_a_grid_of_squares_with_their_density(analyst):
    data = analyst.get(
        hub_url("hub:hotspots_data"), {"area": MIDDLEHAVEN, "from": "2019-02", "to": "2019-02"}
    ).json()
    assert data["features"] and "100 m" in data["title"]
    ring = data["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert all("incidents per km²" in f["properties"]["label"] for f in data["features"])
    assert json.dumps(data, allow_nan=False)  # plain JSON, no NaN


def test_base_map_tiles_are_optional_and_let_through_the_policy_only_when_set(analyst):
    from django.test import override_settings

    from csp_platform.core.middleware import _policy

    assert 'data-tiles=""' in analyst.get(hub_url("hub:hub")).content.decode()
    assert "tile" not in _policy()
    tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    with override_settings(CSP_MAP_TILES=tiles, CSP_MAP_ATTRIBUTION="© Example"):
        assert "img-src 'self' data: https://*.tile.example.org" in _policy()
        page = analyst.get(hub_url("hub:hub")).content.decode()
        assert f'data-tiles="{tiles}"' in page
