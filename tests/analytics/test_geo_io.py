"""Readers and point-in-area assignment, on tiny hand-made inputs and one real file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Point, box

from csp_analytics import io
from csp_analytics.geo import assign_points, to_bng, to_wgs84

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
    "LSOA name,Crime type,Last outcome category,Context\n"
)
ASB = ",2019-01,X Police,X Police,-1.2,54.7,On or near A,E01011954,H 001A,Anti-social behaviour,,\n"


def test_assign_points_matches_a_plain_loop_on_random_points():
    rng = np.random.default_rng(7)
    areas = [box(i, j, i + 1, j + 1) for i in range(3) for j in range(3)]
    x, y = rng.uniform(-0.5, 3.5, 500), rng.uniform(-0.5, 3.5, 500)
    x[:50] = np.round(x[:50])  # points on shared edges go to the first area that covers them
    expected = [
        next((k for k, a in enumerate(areas) if a.covers(Point(px, py))), -1)
        for px, py in zip(x, y)
    ]
    assert assign_points(x, y, areas).tolist() == expected


def test_bng_round_trip_is_exact_to_a_centimetre_and_keeps_missing_missing():
    lon, lat = np.array([-1.2345, -0.1, np.nan]), np.array([54.57, 51.5, np.nan])
    back = to_wgs84(*to_bng(lon, lat))
    assert np.allclose(back[0][:2], lon[:2], atol=1e-7) and np.isnan(back[0][2])


def dms(degrees: int, minutes: int, seconds: float) -> float:
    return degrees + minutes / 60 + seconds / 3600


# Caister water tower, the Ordnance Survey's worked example ("A guide to coordinate systems
# in Great Britain"): ETRS89 52°39'28.8282"N 1°42'57.8663"E is National Grid
# E 651409.903, N 313177.270 (by OSTN). WGS84 and ETRS89 differ by well under a metre in
# Britain; the seven-parameter transformation pyproj uses without the OSTN15 grid is good to
# a few metres, so 5 m is the tolerance: an identity or swapped-axis transform is off by
# hundreds of kilometres.
CAISTER_LON, CAISTER_LAT = dms(1, 42, 57.8663), dms(52, 39, 28.8282)
CAISTER_E, CAISTER_N = 651409.903, 313177.270


def test_bng_agrees_with_the_ordnance_surveys_published_control_point():
    e, n = to_bng(np.array([CAISTER_LON]), np.array([CAISTER_LAT]))
    assert abs(e[0] - CAISTER_E) < 5 and abs(n[0] - CAISTER_N) < 5
    lon, lat = to_wgs84(np.array([CAISTER_E]), np.array([CAISTER_N]))
    # 5 m is about 0.00005 degrees of latitude and 0.00007 of longitude here
    assert abs(lon[0] - CAISTER_LON) < 0.00008 and abs(lat[0] - CAISTER_LAT) < 0.00005


def read(path: Path):
    return list(io.read_police_uk(path))


def test_rows_without_a_crime_id_get_one_identity_per_occurrence(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEADER + ASB + ASB + ASB.replace("On or near A", "On or near B"))
    idents = read(path)[0]["ident"].to_list()
    assert len(set(idents)) == 3
    assert idents[0].endswith("-0") and idents[1].endswith("-1") and idents[2].endswith("-0")
    assert all(i.startswith("201901") and len(i) <= 32 for i in idents)
    # the same rows in another file give the same identities
    other = tmp_path / "b.csv"
    other.write_text(HEADER + ASB + ASB)
    assert read(other)[0]["ident"].to_list() == idents[:2]


def test_occurrences_carry_across_blocks_of_one_file(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(HEADER + ASB * 2000)
    frames = list(io.read_police_uk(path, block_bytes=4096))
    assert len(frames) > 3
    idents = [i for f in frames for i in f["ident"].to_list()]
    assert len(set(idents)) == 2000
    assert [r for f in frames for r in f["row"].to_list()] == list(range(1, 2001))


def test_a_short_row_is_named_by_row_number(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(HEADER + ASB + ASB.rsplit(",", 2)[0] + "\n" + ASB)
    with pytest.raises(io.RowError, match=r"row 2 \(line 3\): expected 12 fields, found 10"):
        read(path)


def test_quoted_commas_are_one_field(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(HEADER + ASB.replace("On or near A", '"On or near A, B"'))
    assert read(path)[0]["location_text"].to_list() == ["On or near A, B"]


def test_missing_coordinates_are_kept_with_no_location(tmp_path):
    path = tmp_path / "none.csv"
    path.write_text(HEADER + ASB.replace("-1.2,54.7", ","))
    frame = read(path)[0]
    assert frame["location_precision"].to_list() == ["none"] and frame["easting"][0] is None


def test_the_real_cleveland_month_reads_whole(data_dir):
    path = data_dir / "police/cleveland/2018-10/2018-10-cleveland-street.csv"
    frame = read(path)[0]
    assert frame.height == 9_352
    assert frame["ident"].n_unique() == 9_352
    assert (frame["source_category"] == "Anti-social behaviour").sum() == 2_981
