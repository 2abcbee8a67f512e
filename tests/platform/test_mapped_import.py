"""Partner files through a mapping: the real LFB fire records, FixMyStreet aggregate counts
and DEFRA annual returns."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from csp_platform.core.errors import ImportRejected
from csp_platform.incidents import selectors, services
from csp_platform.incidents.models import AggregateRecord, Incident
from tests.platform.conftest import count_rows, raw_rows

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"
LFB_WANTED = {
    "Secondary Fire": "secondary-fire",
    "False alarm - Malicious": "malicious-false-alarm",
}


@pytest.fixture
def lfb_file(data_dir: Path) -> Path:
    return data_dir / "fire/lfb_hounslow/lfb_incidents_hounslow_2019-01_to_2022-11.csv"


def test_fire_counts_equal_the_raw_file_through_the_mapping(lfb_file):
    mapping = services.mapping_load(EXAMPLES / "lfb-incidents.yaml")
    result = services.mapped_import([lfb_file], mapping=mapping)
    rows = list(raw_rows(lfb_file))  # utf-8-sig: the file starts with a byte-order mark
    expected = Counter(
        (
            datetime.strptime(r["DateOfCall"], "%d %b %Y").strftime("%Y-%m"),
            LFB_WANTED[r["StopCodeDescription"]],
        )
        for r in rows
        if r["StopCodeDescription"] in LFB_WANTED
    )
    table = count_rows(by=("month", "category"), sources=("lfb-incidents",))
    assert {(r["month"], r["category"]): r["incidents"] for r in table.rows} == dict(expected)
    assert sum(expected.values()) == 1_414 + 77  # SOURCES.md section 11a
    assert result.rows_excluded == 11_529 - 1_491 and result.rows_unknown_category == 0
    # redacted dwellings fall back to the 50 m grid reference, never dropped
    redacted = sum(1 for r in rows if r["StopCodeDescription"] in LFB_WANTED and not r["Easting_m"])
    assert Incident.objects.filter(place__location_precision="rounded").count() == redacted > 0
    assert not Incident.objects.filter(place__location_precision="none").exists()
    first = Incident.objects.get(source_ref="000074-01012019")
    assert (first.place.easting, first.place.northing) == (517751, 178330)
    assert str(first.occurred_on) == "2019-01-01" and str(first.occurred_at) == "00:15:23"
    assert services.mapped_import([lfb_file], mapping=mapping).rows_new == 0


def test_an_aggregate_return_is_counted_beside_incidents_never_as_incidents(
    cleveland_areas, cleveland_files, data_dir
):
    folder = data_dir / "council/fixmystreet_lsoa_monthly/lsoa_all_shef_a"
    files = [folder / f"fms_lsoa_shef_a_2018-{m:02d}.csv" for m in (10, 11)]
    services.police_uk_import(cleveland_files[:2])
    mapping = services.mapping_load(EXAMPLES / "fixmystreet-lsoa-monthly.yaml")
    services.mapped_import(files, mapping=mapping)
    cleveland_lsoas = {
        r["LSOA code"] for p in cleveland_files[:2] for r in raw_rows(p) if r["LSOA code"]
    }
    from csp_platform.areas.models import Area

    ours = set(Area.objects.filter(level="lsoa").values_list("code", flat=True))
    expected = Counter()
    for path in files:
        for r in raw_rows(path):
            if r["SHEF_A_CODE"] == "A29" and r["lsoa"] in ours:
                expected[path.stem[-7:]] += int(r["reports"])
    table = count_rows(by=("month", "source"), area_code="E06000004", categories=("fly-tipping",))
    fms = {r["month"]: r for r in table.rows if r["source"] == "fixmystreet-lsoa"}
    stockton = Counter()
    for path in files:
        for r in raw_rows(path):
            if r["SHEF_A_CODE"] == "A29" and r["lsoa"] in set(
                Area.objects.filter(level="lsoa", parent__code="E06000004").values_list(
                    "code", flat=True
                )
            ):
                stockton[path.stem[-7:]] += int(r["reports"])
    assert {m: r["aggregate_count"] for m, r in fms.items()} == dict(stockton)
    assert all(r["incidents"] is None for r in fms.values())
    assert Incident.objects.filter(source__code="fixmystreet-lsoa").count() == 0
    assert AggregateRecord.objects.filter(
        area__isnull=False, category__code="fly-tipping"
    ).values_list("count", flat=True)
    assert sum(expected.values()) > 0 and cleveland_lsoas
    # by LSOA: incident rows and aggregate returns side by side, each equal to its source
    by_lsoa = count_rows(by=("lsoa",), categories=("fly-tipping",))
    assert sum(r["aggregate_count"] or 0 for r in by_lsoa.rows) == sum(expected.values())
    everything = count_rows(by=("lsoa", "source"))
    police = [r for r in everything.rows if r["source"] == "police-uk-cleveland-police"]
    located = Incident.objects.filter(
        source__code="police-uk-cleveland-police", place__lsoa__isnull=False
    ).count()
    assert sum(r["incidents"] for r in police if r["lsoa"] != "(none)") == located
    assert all(r["aggregate_count"] is None for r in police)


def test_annual_returns_stay_out_of_monthly_breakdowns(cleveland_areas, data_dir):
    path = data_dir / "flytipping/defra_flytipping_incidents_by_la_2012-13_to_2022-23.csv"
    mapping = services.mapping_load(EXAMPLES / "defra-flytipping-by-la.yaml")
    result = services.mapped_import([path], mapping=mapping)
    # '*Total' rows are skipped and ':' (not collected) counts left out, both counted
    assert result.rows_excluded == sum(
        1 for r in raw_rows(path) if r["ONS Code"] == "*Total" or r["Total Incidents"] == ":"
    )
    year = count_rows(
        by=("district",),
        month_from=datetime(2018, 4, 1).date(),
        month_to=datetime(2019, 3, 1).date(),
    )
    raw = {
        r["ONS Code"]: float(r["Total Incidents"])
        for r in raw_rows(path)
        if r["Year"] == "2018-19"
        and r["ONS Code"].startswith("E0600000")
        and r["ONS Code"][-1] in "1234"
    }
    assert {r["district"]: r["aggregate_count"] for r in year.rows} == raw
    monthly = count_rows(by=("month",))
    assert monthly.rows == [] and "annual aggregate counts are left out" in monthly.notes[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "points"}, "mapping field 'kind': must be 'incidents' or 'aggregate'"),
        (
            {"source": {"name": "x", "organisation": "y"}},
            "mapping field 'source.code': is required",
        ),
        (
            {"coordinates": [{"system": "osgb", "x": "a", "y": "b"}]},
            "mapping field 'coordinates[0].system': must be 'bng' or 'wgs84'",
        ),
        (
            {"categories": {"Secondary Fire": "bin-fires"}},
            "'Secondary Fire' maps to 'bin-fires', which is not a canonical category",
        ),
        (
            {"columns": {"category": "StopCode", "date": "DateOfCall"}},
            "names columns not in the file: 'StopCode'",
        ),
    ],
)
def test_a_bad_mapping_is_rejected_naming_the_field(tmp_path, lfb_file, change, message):
    import yaml

    data = yaml.safe_load((EXAMPLES / "lfb-incidents.yaml").read_text())
    data.update(change)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ImportRejected,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        services.mapped_import([lfb_file], mapping=services.mapping_load(path))
    assert Incident.objects.count() == 0


def test_a_bad_date_names_file_row_and_column(tmp_path, lfb_file):
    lines = lfb_file.read_bytes().split(b"\r\n")
    fields = lines[42].split(b",")
    fields[1] = b"9th Jan 2019"
    lines[42] = b",".join(fields)
    bad = tmp_path / "lfb.csv"
    bad.write_bytes(b"\r\n".join(lines))
    mapping = services.mapping_load(EXAMPLES / "lfb-incidents.yaml")
    with pytest.raises(
        ImportRejected,
        match=r"row 42 \(line 43\), column 'DateOfCall': is not "
        r"a date in the format '%d %b %Y' \(found '9th Jan",
    ):
        services.mapped_import([bad], mapping=mapping)


def test_a_changed_mapping_re_maps_the_rows_already_stored(tmp_path, lfb_file):
    import yaml

    services.mapped_import(
        [lfb_file], mapping=services.mapping_load(EXAMPLES / "lfb-incidents.yaml")
    )
    alarms = Incident.objects.filter(source_category="False alarm - Malicious")
    fires = Incident.objects.filter(source_category="Secondary Fire")
    n_alarms, n_fires = alarms.count(), fires.count()
    assert n_alarms > 0 and n_fires > 0
    # The partnership decides malicious false alarms are anti-social behaviour, and stops
    # mapping secondary fires: a new crosswalk version, applied to every stored row.
    data = yaml.safe_load((EXAMPLES / "lfb-incidents.yaml").read_text())
    data["categories"] = {"False alarm - Malicious": "asb-youth-related"}
    data["unlisted"] = "keep"
    path = tmp_path / "lfb-changed.yaml"
    path.write_text(yaml.safe_dump(data))
    result = services.mapped_import([lfb_file], mapping=services.mapping_load(path))
    assert result.rows_new == 0 and result.rows_remapped == n_alarms + n_fires
    assert "re-mapped" in result.summary()
    assert set(alarms.values_list("category__code", flat=True)) == {"asb-youth-related"}
    assert set(fires.values_list("category_id", flat=True)) == {None}
    by_category = {
        r["category"]: r["incidents"]
        for r in count_rows(by=("category",), sources=("lfb-incidents",)).rows
    }
    assert by_category.get("asb-youth-related") == n_alarms
    assert "malicious-false-alarm" not in by_category
    report = next(q for q in selectors.quality_report() if q.code == "lfb-incidents")
    assert report.unknown_categories == {"Secondary Fire": n_fires}
