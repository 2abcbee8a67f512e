"""Ward profile, SIA and forecast pages show what the analysis selectors compute, keep
point-level detail from roles without it, and never show a forecast without its backtest."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
from django.urls import reverse

from csp_platform.analysis import selectors as analysis
from csp_platform.core.models import AuditEvent
from csp_platform.incidents.scope import FULL_ACCESS, scope_resolve
from tests.platform.web.conftest import MIDDLEHAVEN, MIDDLESBROUGH, client_for

PERIODS = {"from": "2019-01", "to": "2019-02", "baseline_from": "2018-11", "baseline_to": "2018-12"}
PERIOD, BASELINE = (date(2019, 1, 1), date(2019, 2, 1)), (date(2018, 11, 1), date(2018, 12, 1))


def test_the_sia_page_shows_the_sia_selectors_table(personas):
    page = client_for(personas, "analyst").get(
        reverse("hub:sia", args=[MIDDLESBROUGH]), {"area": "E06000002", **PERIODS}
    )
    body = page.content.decode()
    report = analysis.sia_for_area(scope_resolve(FULL_ACCESS, "E06000002"), PERIOD, BASELINE)
    shown = re.findall(
        r'data-level="(\w+)" data-code="([^"]+)" data-current="(\d+)" data-baseline="(\d+)"', body
    )
    expected = [
        (r["level"], r["category"] or r["theme"], str(r["current"]), str(r["baseline"]))
        for r in report.rows()
    ]
    assert shown == expected
    assert body.count('data-marker="significant"') == sum(r.significant for r in report.table.rows)
    assert body.count('data-marker="small"') == sum(r.small_numbers for r in report.table.rows)
    for finding in report.findings:
        assert finding.text.replace("'", "&#x27;") in body


def test_the_sia_table_downloads_as_a_recorded_csv(personas):
    client = client_for(personas, "councillor")
    response = client.get(
        reverse("hub:export_sia", args=[MIDDLESBROUGH]), {"area": MIDDLEHAVEN, **PERIODS}
    )
    assert response.status_code == 200 and response.content.startswith(b"level,theme,theme_name")
    record = AuditEvent.objects.order_by("-seq").first()
    assert (record.detail["kind"], record.role, record.detail["parameters"]["area"]) == (
        "sia",
        "councillor",
        MIDDLEHAVEN,
    )
    assert (record.action, record.target_type, record.target_id) == (
        "disclosure",
        "area",
        MIDDLEHAVEN,
    )


def test_a_councillor_sees_the_ward_profile_without_places_or_hotspots(personas):
    url = reverse("hub:ward", args=[MIDDLESBROUGH, MIDDLEHAVEN])
    analyst = client_for(personas, "analyst").get(url, PERIODS).content.decode()
    councillor = client_for(personas, "councillor").get(url, PERIODS).content.decode()
    assert "Top repeat locations" in analyst and 'id="hotspot-cells"' in analyst
    assert "Top repeat locations" not in councillor and 'id="hotspot-cells"' not in councillor
    assert "Middlehaven ward (2013 boundaries)" in councillor and 'id="sia-table"' in councillor


def test_the_forecast_is_shown_beside_its_backtested_accuracy(personas):
    body = (
        client_for(personas, "analyst")
        .get(reverse("hub:forecast", args=[MIDDLESBROUGH]), {"through": "2019-02", "cell": "250"})
        .content.decode()
    )
    assert (
        'id="forecast-accuracy"' in body
        and 'id="hotspot-cells"' in body
        and 'id="backtest-table"' in body
    )
    test = analysis.backtest_for_area(
        scope_resolve(FULL_ACCESS, "E06000002"), date(2018, 3, 1), date(2019, 2, 1), 250
    )
    best = test.best(0.05)
    j = test.coverages.index(0.05)
    hit = 100 * test.mean_hit_rate()[test.methods.index(best), j]
    assert re.search(rf'id="hit-rate">{hit:.1f}%<', body) or re.search(
        rf'id="hit-rate">{hit:.0f}%<', body
    )


def test_the_forecast_page_forecasts_the_chosen_theme_with_that_themes_backtest(personas):
    query = {"through": "2019-02", "cell": "500", "theme": "acquisitive", "months": "6"}
    body = (
        client_for(personas, "analyst")
        .get(reverse("hub:forecast", args=[MIDDLESBROUGH]), query)
        .content.decode()
    )
    acquisitive = scope_resolve(FULL_ACCESS, "E06000002", themes=("acquisitive",))
    test = analysis.backtest_for_area(acquisitive, None, date(2019, 2, 1), 500, last_n=6)
    shown = re.findall(r'data-method="(\w+)" data-coverage="0.05" data-pai="([^"]+)"', body)
    j = test.coverages.index(0.05)
    assert [(m, float(p)) for m, p in shown] == [
        (m, float(test.mean_pai()[i, j])) for i, m in enumerate(test.methods)
    ]
    every = analysis.backtest_for_area(
        scope_resolve(FULL_ACCESS, "E06000002"), None, date(2019, 2, 1), 500, last_n=6
    )
    assert not np.allclose(every.mean_pai(), test.mean_pai())  # the theme made a difference
    best = test.best(0.05)
    used = re.search(r'id="forecast-choice" data-method="(\w+)">([^<]+)<', body)
    assert used and used.group(1) == best
    hit = 100 * test.mean_hit_rate()[test.methods.index(best), j]
    assert f"it found {hit:.0f}% of incidents in 5% of the area" in used.group(2)
    assert used.group(2).startswith("This forecast uses ")
    assert '<option value="acquisitive" selected>' in body


def test_no_forecast_without_a_backtest(personas):
    # Data up to the first month only: nothing before it to score a backtest with.
    body = (
        client_for(personas, "analyst")
        .get(reverse("hub:forecast", args=[MIDDLESBROUGH]), {"through": "2018-11"})
        .content.decode()
    )
    assert "No forecast is shown" in body
    assert 'id="hotspot-cells"' not in body and 'id="forecast-accuracy"' not in body


def test_a_period_that_ends_before_it_starts_is_refused_with_a_message(personas):
    client = client_for(personas, "analyst")
    hub = client.get(reverse("hub:hub", args=[MIDDLESBROUGH]), {"from": "2019-02", "to": "2019-01"})
    assert (
        hub.status_code == 400
        and b"The end of the period must be the same as or after its start" in hub.content
    )
    sia = client.get(reverse("hub:sia", args=[MIDDLESBROUGH]), {"from": "2019-02", "to": "2019-01"})
    assert (
        sia.status_code == 400 and b"The end must be the same as or after the start" in sia.content
    )
    assert b'id="sia-table"' in sia.content  # and shows the default periods meanwhile


def test_the_ward_profile_reads_each_change_in_the_direction_of_the_monthly_rate(personas):
    """Three months with data against one (issue 8): every badge on the ward profile says
    rise or fall as the monthly rate moved, whatever the counts did, and the cards give the
    monthly averages beside the totals."""
    url = reverse("hub:ward", args=[MIDDLESBROUGH, MIDDLEHAVEN])
    query = {
        "from": "2018-12",
        "to": "2019-02",
        "baseline_from": "2018-11",
        "baseline_to": "2018-11",
    }
    body = client_for(personas, "analyst").get(url, query).content.decode()
    rows = re.findall(
        r'data-current="(\d+)" data-baseline="(\d+)" data-direction="([a-z ]+)">(.*?)</tr>',
        body,
        re.S,
    )
    assert len(rows) > 10
    word = {1: "rise", -1: "fall", 0: "no change"}
    for current, baseline, direction, cells in rows:
        now, before = int(current) * 1, int(baseline) * 3  # a month: current / 3, baseline / 1
        d = (now > before) - (now < before)
        assert direction == word[d]
        assert re.findall(r"Significant (rise|fall)", cells) in ([], [word[d]])
    # The case the badge used to get wrong: more incidents over three months, fewer a month.
    assert [r for r in rows if int(r[0]) > int(r[1]) and r[2] == "fall"]
    assert 'id="ward-per-month"' in body and "a month over 3 months with data" in body
