"""Rates per 1,000 residents, peers and emerging issues on the real Northumbria series."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from csp_analytics.rates import peer_comparison
from csp_platform.analysis import selectors
from csp_platform.areas.models import Area
from csp_platform.core.errors import BadQuery
from csp_platform.incidents.scope import FULL_ACCESS, scope_resolve
from tests.conftest import DATA
from tests.platform.analysis.conftest import NEWCASTLE, read_rows

pytestmark = pytest.mark.django_db

YEAR = (date(2021, 1, 1), date(2021, 12, 1))  # 12 months, all published


def raw_burglaries_by_polygon(files, folder: str, field: str) -> Counter[str]:
    """2021 burglaries per polygon of a boundary file, lowest code first on shared edges."""
    path = DATA / "boundaries" / folder / f"{NEWCASTLE}.geojson"
    features = sorted(
        json.loads(path.read_text())["features"], key=lambda f: f["properties"][field]
    )
    polygons = [(f["properties"][field], shape(f["geometry"])) for f in features]
    points: Counter[tuple[float, float]] = Counter()
    for p in files:
        if "2021-" in p.name:
            for row in read_rows(p):
                if row["Crime type"] == "Burglary" and row["Longitude"]:
                    points[float(row["Longitude"]), float(row["Latitude"])] += 1
    xy = np.array(list(points))
    owner = np.full(len(xy), "", dtype=object)
    for code, polygon in polygons:
        free = owner == ""
        hit = shapely.intersects_xy(polygon, xy[free, 0], xy[free, 1])
        owner[np.flatnonzero(free)[hit]] = code
    out: Counter[str] = Counter()
    for n, code in zip(points.values(), owner):
        if code:
            out[code] += n
    return out


@pytest.mark.parametrize(
    "level, folder, field", [("ward", "wards_2013", "WD13CD"), ("lsoa", "lsoa_2011", "LSOA11CD")]
)
def test_rates_equal_raw_counts_over_census_population(northumbria, level, folder, field):
    table = selectors.rates_for_areas(
        scope_resolve(FULL_ACCESS, NEWCASTLE, categories=("burglary",)), level, YEAR
    )
    raw = raw_burglaries_by_polygon(northumbria.files, folder, field)
    got = {r["code"]: r["incidents"] for r in table.records()}
    assert {k: v for k, v in got.items() if v} == dict(raw)
    assert len(got) == {"ward": 26, "lsoa": 175}[level]
    for r in table.records():
        assert r["months_with_data"] == 12 and r["reason"] is None
        assert r["per_1000"] == pytest.approx(1000 * r["incidents"] / r["population"])


def test_a_district_whose_sources_have_no_data_for_the_period_gets_no_rate(
    northumbria, cleveland_areas
):
    table = selectors.rates_for_areas(
        scope_resolve(FULL_ACCESS, categories=("burglary",)), "district", YEAR
    )
    by_code = {r["code"]: r for r in table.records()}
    assert by_code[NEWCASTLE]["incidents"] == 1_561  # docs/analytics/rates-and-peers.md
    for code in ("E06000001", "E06000002", "E06000003", "E06000004"):
        assert by_code[code]["incidents"] is None and by_code[code]["per_1000"] is None
        assert by_code[code]["reason"] == "no data for the period"
    with pytest.raises(BadQuery, match="no incident data"):
        selectors.sia_for_area(
            scope_resolve(FULL_ACCESS, "E06000002"), YEAR, (date(2020, 1, 1), date(2020, 12, 1))
        )


def test_a_ward_is_compared_with_the_rest_of_its_district(northumbria):
    table = selectors.rates_for_areas(
        scope_resolve(FULL_ACCESS, NEWCASTLE, themes=("asb",)), "ward", YEAR
    )
    focus = max(table.rows, key=lambda r: r.per_1000 or 0)
    report = selectors.peer_comparison_for(
        scope_resolve(FULL_ACCESS, focus.area.code, themes=("asb",)), YEAR
    )
    district = report.groups[0]
    assert district.name == "the wards of Newcastle upon Tyne" and len(district.areas) == 26
    expected = peer_comparison(
        [r.area.code for r in table.rows],
        [r.incidents for r in table.rows],
        [r.area.population for r in table.rows],
        focus=focus.area.code,
    )
    assert district.comparison.rest_rate == pytest.approx(expected.rest_rate)
    assert district.comparison.p_value == pytest.approx(expected.p_value)
    assert district.comparison.rank == 1
    assert report.focus_rate == pytest.approx(focus.per_1000)
    assert "rank 1 of 26" in report.sentences()[0]


def test_emerging_issues_treat_the_missing_month_as_a_gap(northumbria):
    scan = selectors.emerging_for_area(
        scope_resolve(FULL_ACCESS, NEWCASTLE), date(2022, 2, 1), by="ward"
    )
    assert scan.n_tested == 26 and scan.month == "2022-02"
    for check in scan.checks:
        assert "2022-01" not in check.baseline_months
        assert "Jan 2022 missing" in check.evidence
        assert check.series_key.endswith(", 2013)")  # every ward names its generation
    with pytest.raises(BadQuery, match="2022-01 has no data"):
        selectors.emerging_for_area(scope_resolve(FULL_ACCESS, NEWCASTLE), date(2022, 1, 1))


def test_the_ward_profile_holds_every_part(northumbria):
    ward = Area.objects.filter(level="ward", parent__code=NEWCASTLE).order_by("code").first()
    profile = selectors.ward_profile(
        scope_resolve(FULL_ACCESS, ward.code, levels=("ward",)),
        (date(2021, 7, 1), date(2022, 6, 1)),
        (date(2020, 7, 1), date(2021, 6, 1)),
    )
    assert profile.parent.code == NEWCASTLE and profile.notes[0].startswith("--period")
    gap = [t for t in profile.trend if not t.has_data]
    assert [f"{t.month:%Y-%m}" for t in gap] == ["2022-01"] and gap[0].total is None
    assert profile.peers is not None and profile.hotspots is not None
    assert profile.emerging is not None and profile.emerging.month == "2022-06"
    json.dumps(profile.to_json(), allow_nan=False)
