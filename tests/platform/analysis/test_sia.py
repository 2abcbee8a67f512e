"""The SIA on real data: numbers equal counts straight from the raw files, significance
agrees with an independent calculation, missing months are gaps, and the command prints
what the issue asks for."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import date
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import shapely
from django.core.management import call_command
from django.template.loader import render_to_string
from numpy.testing import assert_allclose
from scipy import stats
from shapely.geometry import Point, shape

from csp_platform.analysis import selectors
from csp_platform.analysis.results import SiaReport
from csp_platform.areas import services as area_services
from csp_platform.incidents import services
from csp_platform.incidents.scope import FULL_ACCESS, Scope, scope_resolve
from tests.conftest import DATA
from tests.platform.analysis.conftest import NEWCASTLE, read_rows
from tests.platform.conftest import CLEVELAND, police_uk_category

pytestmark = pytest.mark.django_db

MIDDLESBROUGH = "E06000002"
CLEVELAND_PERIOD = (date(2024, 1, 1), date(2024, 2, 1))
CLEVELAND_BASELINE = (date(2018, 12, 1), date(2019, 1, 1))
# Northumbria: 2022-01 was never published, so the period has 11 months with data.
PERIOD = (date(2021, 7, 1), date(2022, 6, 1))
BASELINE = (date(2020, 7, 1), date(2021, 6, 1))


def scope_of(code: str) -> Scope:
    """The scope a command resolves: the area, full access."""
    return scope_resolve(FULL_ACCESS, code)


def csp(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def district_polygons() -> list[tuple[str, shapely.Geometry]]:
    """Every district the test database holds, lowest code first (the edge rule)."""
    codes = sorted((*CLEVELAND, NEWCASTLE))
    out = []
    for code in codes:
        path = DATA / "boundaries" / "districts_2011" / f"{code}.geojson"
        (feature,) = json.loads(path.read_text())["features"]
        out.append((code, shape(feature["geometry"])))
    return out


def raw_counts(files: list[Path], district: str) -> Counter[tuple[str, str]]:
    """(month, canonical category) -> rows of the raw files whose point lies in the district.

    Read with the csv module; each distinct point is tested against the districts one by
    one, lowest code first (a point on a shared edge belongs to the lowest code). A row
    without coordinates could only be placed by its LSOA code, and the files have none.
    """
    to_code = police_uk_category()
    polygons = district_polygons()
    where: dict[tuple[str, str], str | None] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for path in files:
        for row in read_rows(path):
            lon, lat = row["Longitude"], row["Latitude"]
            if not lon:
                assert not row["LSOA code"], "a row placed only by its LSOA code"
                continue
            if (lon, lat) not in where:
                point = Point(float(lon), float(lat))
                where[lon, lat] = next((c for c, poly in polygons if poly.covers(point)), None)
            if where[lon, lat] == district:
                counts[row["Month"], to_code[row["Crime type"]]] += 1
    return counts


def in_period(counts: Counter[tuple[str, str]], period: tuple[date, date]) -> Counter[str]:
    first, last = (f"{d:%Y-%m}" for d in period)
    out: Counter[str] = Counter()
    for (month, code), n in counts.items():
        if first <= month <= last:
            out[code] += n
    return out


def assert_equal_to_raw(report: SiaReport, raw: Counter[tuple[str, str]]) -> None:
    current, baseline = in_period(raw, report.period), in_period(raw, report.baseline)
    rows = report.rows("category")
    assert {r["category"]: r["current"] for r in rows if r["current"]} == dict(current)
    assert {r["category"]: r["baseline"] for r in rows if r["baseline"]} == dict(baseline)
    for theme in report.rows("theme"):
        members = [r for r in rows if r["theme"] == theme["theme"]]
        assert theme["current"] == sum(r["current"] for r in members)
        assert theme["baseline"] == sum(r["baseline"] for r in members)


def assert_significance_agrees_with_scipy(report: SiaReport) -> None:
    """Exact binomial test of the current count given the total (scipy.stats.binomtest,
    p0 = e1 / (e1 + e0) with months as exposures), Benjamini-Hochberg with scipy's
    false_discovery_control over every row, significant when q < 0.05."""
    e1, e0 = report.current_months, report.baseline_months
    rows = report.rows()
    p = np.array(
        [
            stats.binomtest(r["current"], r["current"] + r["baseline"], e1 / (e1 + e0)).pvalue
            if r["current"] + r["baseline"]
            else 1.0
            for r in rows
        ]
    )
    q = stats.false_discovery_control(p, method="bh")
    assert [r["significant"] for r in rows] == [bool(v) for v in q < 0.05]
    assert_allclose([r["p_value"] or 0.0 for r in rows], p, rtol=1e-6, atol=1e-300)
    assert_allclose([r["q_value"] or 0.0 for r in rows], q, rtol=1e-6, atol=1e-300)


def test_cleveland_sia_equals_the_raw_files_and_scipy(cleveland_areas, cleveland_files):
    services.police_uk_import(cleveland_files)
    report = selectors.sia_for_area(scope_of(MIDDLESBROUGH), CLEVELAND_PERIOD, CLEVELAND_BASELINE)
    assert (report.current_months, report.baseline_months) == (2, 2)
    assert report.sources == ("police-uk-cleveland-police",)
    raw = raw_counts(cleveland_files, MIDDLESBROUGH)
    assert_equal_to_raw(report, raw)
    assert sum(in_period(raw, CLEVELAND_PERIOD).values()) > 3_000  # a real district's months
    assert_significance_agrees_with_scipy(report)
    assert any(r.significant for r in report.table.rows)
    assert any(not r.significant for r in report.table.rows)


def test_newcastle_sia_equals_the_raw_files_and_leaves_the_missing_month_out(northumbria):
    report = selectors.sia_for_area(scope_of(NEWCASTLE), PERIOD, BASELINE)
    assert report.current.gap_labels() == ("2022-01",)
    assert (report.current_months, report.baseline_months) == (11, 12)
    assert any("2022-01" in n and "never counted as zero" in n for n in report.notes)
    assert_equal_to_raw(report, raw_counts(northumbria.files, NEWCASTLE))
    assert_significance_agrees_with_scipy(report)
    # The change is in the rate per month: 11 months are compared with 12, not with zero.
    asb = report.table.row("Anti-social behaviour", level="theme")
    assert asb.change_pct == pytest.approx(100 * ((asb.current / 11) / (asb.baseline / 12) - 1))


def test_findings_carry_their_numbers_and_say_when_a_change_may_be_chance(northumbria):
    report = selectors.sia_for_area(scope_of(NEWCASTLE), PERIOD, BASELINE)
    by_key = {(r.theme, r.category): r for r in report.table.rows}
    assert len(report.findings) >= len(report.table.themes())
    for f in report.findings:
        row = by_key[f.theme, f.category if f.level == "category" else None]
        assert (f.current, f.baseline, f.significant) == (
            row.current,
            row.baseline,
            row.significant,
        )
        assert f"{row.current:,}" in f.text and f"{row.baseline:,}" in f.text
        assert ("may be chance variation" in f.text) == (not f.significant)
        assert "a month on average" in f.text or f.change_pct is None  # 11 months against 12


def test_top_repeat_locations_are_snap_points_counted_from_the_raw_rows(northumbria):
    report = selectors.sia_for_area(scope_of(NEWCASTLE), PERIOD, BASELINE)
    top = report.top_locations[0]
    months = {f"{m:%Y-%m}" for m in report.current.months}
    raw = sum(
        1
        for path in northumbria.files
        if path.name[:7] in months
        for row in read_rows(path)
        if row["Location"] == top.location
        and row["Longitude"]
        and float(row["Longitude"]) == top.lon
        and float(row["Latitude"]) == top.lat
    )
    assert top.incidents == raw > 50
    assert "not addresses" in report.repeats.caveats[0]
    assert [t.incidents for t in report.top_locations] == sorted(
        (t.incidents for t in report.top_locations), reverse=True
    )


def test_the_sia_command_prints_json_with_the_fields_asked_for(northumbria):
    sia = ("csp_sia", "--area", NEWCASTLE, "--period", "2021-07..2022-06")
    sia += ("--baseline", "2020-07..2021-06")
    out = csp(*sia, "--format", "json")
    data = json.loads(out)
    report = selectors.sia_for_area(scope_of(NEWCASTLE), PERIOD, BASELINE)
    assert data["period"]["missing_months"] == ["2022-01"]
    assert data["period"]["months_with_data"] == 11
    fields = {"category", "theme", "current", "baseline", "change_per_month", "change_pct"}
    fields |= {"direction", "significant", "reading"}
    assert len(data["categories"]) == len(report.table.categories()) == 14
    for got, row in zip(data["categories"], report.rows("category")):
        assert fields <= set(got)
        assert {k: got[k] for k in fields} == {k: row[k] for k in fields}
    assert [f["text"] for f in data["findings"]] == [f.text for f in report.findings]
    table = csp(*sia)
    assert "Findings:" in table and report.findings[0].text in table
    assert "not addresses" in table


def test_a_custom_area_counted_from_rows_agrees_with_the_linked_district(northumbria):
    """The two read paths (the district link, and bounding box + point in polygon) agree."""
    path = DATA / "boundaries" / "districts_2011" / f"{NEWCASTLE}.geojson"
    area_services.areas_import(
        [path], level="custom", generation="test", code_field="LAD11NM", name_field="LAD11NM"
    )
    linked = selectors.sia_for_area(scope_of(NEWCASTLE), PERIOD, BASELINE)
    custom = selectors.sia_for_area(scope_of("Newcastle upon Tyne"), PERIOD, BASELINE)
    assert (linked.area.level, custom.area.level) == ("district", "custom")
    assert custom.rows() == linked.rows()
    assert custom.top_locations == linked.top_locations


# Issue 8: Middlesbrough, Dec 2023-Feb 2024 (January and February have data) against Dec
# 2018-Feb 2019 (three months). Vehicle crime fell from 317 to 294 incidents but rose from
# 106 to 147 a month; the page said "+39%" beside "Significant fall".
FEWER_MONTHS = (date(2023, 12, 1), date(2024, 2, 1))
THREE_MONTHS = (date(2018, 12, 1), date(2019, 2, 1))
VEHICLE = "vehicle-crime"


def rate_direction(current: int, baseline: int, current_months: int, baseline_months: int) -> int:
    """+1 when the monthly rate rose, -1 when it fell, 0 when equal (integer arithmetic)."""
    now, before = current * baseline_months, baseline * current_months
    return (now > before) - (now < before)


def sign(text: str) -> int:
    value = float(text)
    return (value > 0) - (value < 0)


def test_middlesbrough_rises_over_fewer_months_read_as_rises_everywhere(
    cleveland_areas, cleveland_files
):
    services.police_uk_import(cleveland_files)
    report = selectors.sia_for_area(scope_of(MIDDLESBROUGH), FEWER_MONTHS, THREE_MONTHS)
    assert (report.current_months, report.baseline_months) == (2, 3)
    raw = raw_counts(cleveland_files, MIDDLESBROUGH)
    assert_equal_to_raw(report, raw)
    assert_significance_agrees_with_scipy(report)
    now, before = in_period(raw, FEWER_MONTHS), in_period(raw, THREE_MONTHS)
    assert now[VEHICLE] < before[VEHICLE] and now[VEHICLE] / 2 > before[VEHICLE] / 3  # the case
    # What every row must say, from the raw files: the direction of the monthly rate, and
    # "significant" from scipy's exact binomial test with months as exposures (checked above).
    expected = {
        (r["level"], r["category"] or r["theme"]): (
            rate_direction(r["current"], r["baseline"], 2, 3),
            r["significant"],
        )
        for r in report.rows()
    }
    word = {1: "rise", -1: "fall"}
    assert (1, True) in expected.values() and (-1, True) in expected.values()
    assert expected["category", VEHICLE] == (1, True)

    # The table the SIA page and the ward profile include.
    html = render_to_string("hub/_sia_table.html", {"sia": report})
    shown = re.findall(
        r'<tr class="govuk-table__row[^"]*" data-level="(\w+)" data-code="([^"]+)"[^>]*>(.*?)</tr>',
        html,
        re.S,
    )
    badges = {
        (level, code): re.findall(r"Significant (rise|fall)", cells) for level, code, cells in shown
    }
    assert badges == {k: [word[d]] if sig else [] for k, (d, sig) in expected.items()}
    for level, code, cells in shown:  # the word and the symbol, not colour alone
        direction, significant = expected[level, code]
        if significant:
            icon = {1: "▲", -1: "▼"}[direction]
            assert f'<span aria-hidden="true">{icon}</span> Significant {word[direction]}' in cells

    # `csp sia --format csv`: every change column has the sign of the rate's change.
    args = ["--area", MIDDLESBROUGH, "--period", "2023-12..2024-02"]
    args += ["--baseline", "2018-12..2019-02"]
    rows = list(csv.DictReader(StringIO(csp("csp_sia", *args, "--format", "csv"))))
    assert len(rows) == len(expected)
    for row in rows:
        direction, significant = expected[row["level"], row["category"] or row["theme"]]
        assert "change_per_month" in row
        for column in ("change", "change_per_month", "change_pct"):
            if row.get(column):
                assert sign(row[column]) == direction, (row["category"], column, row[column])
        assert row["direction"] == word.get(direction, "no change")
        reading = f"significant {word[direction]}" if significant else "not significant"
        assert row["reading"] == reading

    # `csp sia --format json` and the table output.
    data = json.loads(csp("csp_sia", *args, "--format", "json"))
    for row in data["themes"] + data["categories"]:
        direction, _ = expected[row["level"], row["category"] or row["theme"]]
        assert row["direction"] == word.get(direction, "no change")
        assert sign(str(row["change_per_month"])) == sign(str(row["change_pct"])) == direction
    text = csp("csp_sia", *args)
    (vehicle_line,) = [line for line in text.splitlines() if line.startswith("  Vehicle crime")]
    assert "▲ +39%" in vehicle_line and "▲ significant rise" in vehicle_line

    # The findings in words follow the same direction.
    for f in report.findings:  # their counts are the rows' (checked against the raw files)
        direction = rate_direction(f.current, f.baseline, 2, 3)
        verb = {1: "increased", -1: "decreased"}[direction]
        assert f" {verb} by " in f.text, f.text
        assert "a month on average" in f.text
    (vehicle,) = [f for f in report.findings if f.category == "Vehicle crime"]
    assert "increased by 39% a month on average, from 106 to 147 a month" in vehicle.text
