"""Did it work? An outcome evaluation on real Northumbria data (Newcastle upon Tyne), reproduced
independently: counts from the raw police.uk files with polars, wards and the 500 m ring with
shapely and pyproj (not the platform's loaders), the comparison wards and the difference in
differences with hand-written numpy. Also the refusals the platform adds (missing month)."""

from __future__ import annotations

import gzip
import io
import json
import math
from datetime import date
from io import StringIO

import numpy as np
import polars as pl
import pytest
import shapely
from django.core.management import call_command
from numpy.testing import assert_allclose
from pyproj import Transformer
from scipy import stats
from shapely.geometry import shape

from csp_platform.analysis.evaluation import evaluation_for, evaluation_for_action
from csp_platform.areas.models import Area
from csp_platform.core.models import Partnership
from csp_platform.incidents.models import Category
from csp_platform.incidents.scope import FULL_ACCESS, scope_resolve
from csp_platform.plans.models import Action, Objective, Plan
from tests.conftest import DATA
from tests.platform.analysis.conftest import NEWCASTLE

pytestmark = pytest.mark.django_db

OUSEBURN = "E05001104"  # Ouseburn, Newcastle upon Tyne (2013 boundaries)
BEFORE = [f"2020-{m:02d}" for m in range(5, 13)]  # 8 months before the start
AFTER = [f"2021-{m:02d}" for m in range(1, 8)]  # 2021-01 (start) to 2021-07
TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def _raw_asb(months: list[str]) -> pl.DataFrame:
    frames = []
    for m in months:
        path = DATA / "police" / "northumbria" / m / f"{m}-northumbria-street.csv.gz"
        with gzip.open(path, "rb") as fh:
            frame = pl.read_csv(io.BytesIO(fh.read()), infer_schema_length=0)
        frames.append(frame.filter(pl.col("Crime type") == "Anti-social behaviour"))
    raw = pl.concat(frames).filter(pl.col("Longitude").is_not_null())
    return raw.select(
        pl.col("Month"),
        pl.col("Longitude").cast(pl.Float64).alias("lon"),
        pl.col("Latitude").cast(pl.Float64).alias("lat"),
    )


def _wards() -> dict[str, tuple[str, shapely.Geometry]]:
    doc = json.loads((DATA / "boundaries" / "wards_2013" / f"{NEWCASTLE}.geojson").read_text())
    return {
        f["properties"]["WD13CD"]: (f["properties"]["WD13NM"], shape(f["geometry"]))
        for f in doc["features"]
    }


def _bng(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(TO_BNG.transform(xy[:, 0], xy[:, 1])))


def test_ouseburn_asb_evaluation_matches_an_independent_calculation(northumbria):
    months = BEFORE + AFTER
    raw = _raw_asb(months)
    wards = _wards()
    lon, lat = raw["lon"].to_numpy(), raw["lat"].to_numpy()
    month_index = np.array([months.index(m) for m in raw["Month"].to_list()])

    def series(inside: np.ndarray) -> np.ndarray:
        return np.bincount(month_index[inside], minlength=len(months)).astype(float)

    per_ward = {code: series(shapely.contains_xy(g, lon, lat)) for code, (_, g) in wards.items()}
    ouseburn = _bng(wards[OUSEBURN][1])
    zone = ouseburn.buffer(500)
    ring = zone.difference(ouseburn)
    e, n = TO_BNG.transform(lon, lat)
    ring_series = series(shapely.contains_xy(ring, e, n))
    candidates = []
    for code, (_, g) in wards.items():
        b = _bng(g)
        if code != OUSEBURN and not (b.intersects(zone) and not b.touches(zone)):
            candidates.append(code)
    # Level ln(mean + 0.5) and trend n * slope / mean over the 8 months before; 5 nearest.
    nb = len(BEFORE)
    t = np.arange(nb)

    def features(y: np.ndarray) -> tuple[float, float]:
        mean = y[:nb].mean()
        slope = ((t - t.mean()) * (y[:nb] - mean)).sum() / ((t - t.mean()) ** 2).sum()
        return math.log(mean + 0.5), slope / mean * nb

    lt, st = features(per_ward[OUSEBURN])
    dist = {
        c: math.hypot(features(per_ward[c])[0] - lt, features(per_ward[c])[1] - st)
        for c in candidates
    }
    chosen = sorted(candidates, key=lambda c: dist[c])[:5]
    area = per_ward[OUSEBURN]
    comp = np.array([per_ward[c] for c in chosen])
    t0, t1 = area[:nb].sum(), area[nb:].sum()
    c0, c1 = comp[:, :nb].sum(), comp[:, nb:].sum()
    rows = [area[:nb], area[nb:], *comp[:, :nb], *comp[:, nb:]]
    chi2 = sum(((r - r.mean()) ** 2 / r.mean()).sum() for r in rows)
    phi = max(1.0, chi2 / sum(len(r) - 1 for r in rows))
    log_ratio = math.log(t1 / t0) - math.log(c1 / c0)
    se = math.sqrt(phi * (1 / t0 + 1 / t1 + 1 / c0 + 1 / c1))
    p = 2 * stats.norm.sf(abs(log_ratio / se))

    # The action of a plan, as `csp evaluate --action` and the action page evaluate it: the
    # default 12 months before start at the store's first month (2020-05), so 8 are used.
    action = _action(date(2021, 1, 15))
    (report,) = evaluation_for_action(action, months_after=7).reports
    assert report.n_before == 8 and len(report.months) == 15
    r = report.result
    assert not r.refused, r.verdict
    assert r.comparison == tuple(wards[c][0] for c in chosen)
    assert r.counts is not None
    assert r.counts["area"] == (t0, t1)
    assert r.counts["comparison"] == (c0, c1)
    assert r.counts["ring"] == (ring_series[:nb].sum(), ring_series[nb:].sum())
    assert r.did is not None
    assert_allclose(
        [r.did.ratio, r.did.se_log, r.did.p_value], [math.exp(log_ratio), se, p], rtol=1e-9
    )
    assert r.verdict.startswith("Anti-social behaviour (police) in the area ")


def _action(start: date) -> Action:
    partnership = Partnership.objects.create(slug="newcastle", name="Safe Newcastle")
    plan = Plan.objects.create(partnership=partnership, title="Delivery plan")
    objective = Objective.objects.create(plan=plan, text="Reduce ASB in Ouseburn")
    action = Action.objects.create(
        plan=plan, objective=objective, text="Ouseburn patrols", start_date=start
    )
    action.areas.add(Area.objects.get(code=OUSEBURN, level="ward"))
    action.categories.add(Category.objects.get(code="anti-social-behaviour"))
    return action


def test_an_action_without_an_area_or_start_says_what_it_lacks(northumbria):
    action = _action(date(2021, 1, 1))
    action.areas.clear()
    action.start_date = None
    found = evaluation_for_action(action)
    assert found.outcome == "not evaluated"
    assert found.verdict == (
        "Not evaluated: the action has no linked area; the action has no start date."
    )


def test_the_missing_month_refuses_a_verdict_and_names_it(northumbria):
    # 2022-01 is missing from the Northumbria series (SOURCES.md 8a): a gap, never a zero.
    scope = scope_resolve(FULL_ACCESS, OUSEBURN, categories=("anti-social-behaviour",))
    report = evaluation_for(scope, date(2021, 12, 1), months_before=6, months_after=4)
    assert report.result.refused
    assert "the area has no data for 2022-01" in report.result.reasons


def test_the_evaluate_command_prints_the_verdict_and_json(northumbria):
    out = StringIO()
    call_command(
        "csp_evaluate", "--area", OUSEBURN, "--start", "2021-01", "--before", "8", "--after",
        "7", "--category", "anti-social-behaviour", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "Evaluation: anti-social behaviour (police) in Ouseburn (ward, 2013)" in text
    assert "Comparison areas (5 of " in text
    assert "Weighted displacement quotient" in text
    action = _action(date(2021, 1, 1))
    out = StringIO()
    call_command(
        "csp_evaluate", "--action", str(action.uuid), "--after", "7", "--format", "json",
        stdout=out,
    )  # fmt: skip
    data = json.loads(out.getvalue())
    (area,) = data["areas"]
    assert area["area"]["code"] == OUSEBURN and len(area["comparison_areas"]) == 5
    assert area["months_before"] == 8 and area["months_after"] == 7
