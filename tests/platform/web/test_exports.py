"""Exports keep full precision (issue 8): the point-level CSV gives each map point exactly as
police.uk published it, and the SIA download has one layout, the same as
`csp sia --format csv`, with p-values to two significant figures ("<0.001" below)."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from io import StringIO

from django.core.management import call_command
from django.urls import reverse
from scipy import stats

from csp_platform.core.models import AuditAction, AuditEvent
from tests.conftest import DATA
from tests.platform.conftest import raw_rows
from tests.platform.web.conftest import MIDDLESBROUGH, client_for

FEBRUARY = DATA / "police" / "cleveland" / "2019-02" / "2019-02-cleveland-street.csv"


def test_the_point_csv_gives_coordinates_as_police_uk_published_them(personas):
    response = client_for(personas, "analyst").get(
        reverse("hub:export_points", args=[MIDDLESBROUGH]),
        {"area": "E06000002", "from": "2019-02", "to": "2019-02"},
    )
    assert response.status_code == 200
    exported = list(csv.DictReader(io.StringIO(response.content.decode())))
    # The raw file, read as text: each published point and the rows at it.
    published = Counter((r["Longitude"], r["Latitude"]) for r in raw_rows(FEBRUARY))
    location = {(r["Longitude"], r["Latitude"]): r["Location"] for r in raw_rows(FEBRUARY)}
    assert len(exported) > 500  # Middlesbrough's points in one month
    for row in exported:
        point = (row["lon"], row["lat"])
        assert point in published, point  # the same text, every digit
        assert int(row["incidents"]) == published[point]
        assert row["location"] == location[point]
    # police.uk's six decimals survive, trailing zeros included (-1.234560, not -1.23456).
    assert all(len(v.split(".")[1]) == 6 for row in exported for v in (row["lon"], row["lat"]))
    assert any(row["lon"].endswith("0") or row["lat"].endswith("0") for row in exported)


def two_significant_figures(p: float) -> tuple[float, float]:
    """The interval of p-values that round to one two-significant-figure value."""
    step = 10 ** (math.floor(math.log10(p)) - 1)
    return p - step / 2, p + step / 2


def test_the_sia_download_is_the_csp_sia_csv_with_readable_p_values(personas):
    # Three months with data against one: the case where counts and rates can disagree.
    query = {
        "from": "2018-12",
        "to": "2019-02",
        "baseline_from": "2018-11",
        "baseline_to": "2018-11",
    }
    response = client_for(personas, "councillor").get(
        reverse("hub:export_sia", args=[MIDDLESBROUGH]), {"area": "E06000002", **query}
    )
    assert response.status_code == 200
    out = StringIO()
    call_command(
        "csp_sia",
        "--area=E06000002",
        "--period=2018-12..2019-02",
        "--baseline=2018-11..2018-11",
        "--format=csv",
        stdout=out,
        stderr=StringIO(),
    )
    body = response.content.decode()
    assert body == out.getvalue()  # one layout, one set of values
    rows = list(csv.DictReader(io.StringIO(body)))
    export = AuditEvent.objects.filter(action=AuditAction.DISCLOSURE).order_by("-seq").first()
    assert export.detail["rows"] == len(rows) > 10
    assert {(r["current_months"], r["baseline_months"]) for r in rows} == {("3", "1")}
    seen_small = seen_large = False
    for r in rows:
        current, baseline = int(r["current"]), int(r["baseline"])
        p = stats.binomtest(current, current + baseline, 3 / 4).pvalue
        if p < 0.001:
            assert r["p_value"] == "<0.001"
            seen_small = True
        else:
            low, high = two_significant_figures(float(r["p_value"]))
            assert low <= p <= high, (r["category"], r["p_value"], p)
            assert len(r["p_value"].replace(".", "").lstrip("0")) == 2  # 0.046, 0.50, 1.0
            seen_large = True
        assert r["q_value"] == "<0.001" or 0.001 <= float(r["q_value"]) <= 1
    assert seen_small and seen_large
