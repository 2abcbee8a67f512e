"""SIA comparison, peer rates and emerging issues on real police.uk data (Northumbria).

The data are the monthly police.uk street-level files for Northumbria Police, 2020-05 to
2022-06 with 2022-01 missing (see shared/data/SOURCES.md section 8a). They are read in
place and never copied into the repository. Counts are read once with the csv module;
the SIA checks recount the rows independently with polars.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from csp_analytics.compare import CategoryCounts, compare_periods, findings
from csp_analytics.emerging import emerging_issues
from csp_analytics.rates import peer_comparison
from tests.conftest import DATA  # ../shared/data, or CSP_SHARED/data

NORTHUMBRIA = DATA / "police" / "northumbria"
POPULATION = DATA / "population" / "census2011_lsoa_population_households.csv"


@pytest.fixture(autouse=True)
def _real_data_present(data_dir: Path) -> None:
    """The real files are part of the test contract: missing data fails, never skips."""


THEMES = {
    "Anti-social behaviour": "Anti-social behaviour",
    "Burglary": "Acquisitive crime",
    "Bicycle theft": "Acquisitive crime",
    "Other theft": "Acquisitive crime",
    "Robbery": "Acquisitive crime",
    "Shoplifting": "Acquisitive crime",
    "Theft from the person": "Acquisitive crime",
    "Vehicle crime": "Acquisitive crime",
    "Violence and sexual offences": "Violence and public order",
    "Possession of weapons": "Violence and public order",
    "Public order": "Violence and public order",
    "Criminal damage and arson": "Criminal damage and arson",
    "Drugs": "Drugs",
    "Other crime": "Other crime",
}
# The six local authorities of Northumbria (2011 codes, as in the Census 2011 file).
LADS = ("E06000048", "E08000020", "E08000021", "E08000022", "E08000023", "E08000024")


def month_file(month: str) -> Path:
    return NORTHUMBRIA / month / f"{month}-northumbria-street.csv.gz"


@dataclass(frozen=True)
class Loaded:
    months: tuple[str, ...]  # months present on disk, in order
    by_type: Counter[tuple[str, str]]  # (month, crime type)
    by_area: Counter[tuple[str, str, str]]  # (month, area from LSOA name, crime type)
    by_lsoa: Counter[tuple[str, str, str]]  # (month, LSOA code, crime type)


@cache
def load() -> Loaded:
    by_type: Counter[tuple[str, str]] = Counter()
    by_area: Counter[tuple[str, str, str]] = Counter()
    by_lsoa: Counter[tuple[str, str, str]] = Counter()
    found = sorted(d.name for d in NORTHUMBRIA.iterdir() if month_file(d.name).is_file())
    for month in found:
        with gzip.open(month_file(month), "rt", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                assert row["Month"] == month
                kind = row["Crime type"]
                area = row["LSOA name"].rsplit(" ", 1)[0] if row["LSOA name"] else ""
                by_type[month, kind] += 1
                by_area[month, area, kind] += 1
                by_lsoa[month, row["LSOA code"], kind] += 1
    return Loaded(tuple(found), by_type, by_area, by_lsoa)


def month_range(start: str, end: str) -> list[str]:
    labels = np.arange(start, np.datetime64(end, "M") + 1, dtype="datetime64[M]")
    return [str(m) for m in labels]


def sia_rows(current: list[str], baseline: list[str]) -> list[CategoryCounts]:
    data = load()
    return [
        CategoryCounts(
            kind,
            theme,
            sum(data.by_type[m, kind] for m in current),
            sum(data.by_type[m, kind] for m in baseline),
        )
        for kind, theme in THEMES.items()
    ]


def polars_counts(months: list[str]) -> dict[str, int]:
    """Rows per crime type, counted independently of the csv reader above."""
    frame = pl.concat([pl.read_csv(month_file(m), columns=["Month", "Crime type"]) for m in months])
    assert set(frame["Month"].unique().to_list()) == set(months)
    counted = frame.group_by("Crime type").len()
    return dict(zip(counted["Crime type"].to_list(), counted["len"].to_list()))


# --------------------------------------------------------------------------------------
# SIA comparison
# --------------------------------------------------------------------------------------

CURRENT = month_range("2021-02", "2021-06")
BASELINE = month_range("2020-09", "2021-01")


def test_the_data_is_as_documented():
    data = load()
    assert len(data.months) == 25 and "2022-01" not in data.months
    assert data.by_type["2020-07", "Anti-social behaviour"] == 1368
    assert sum(data.by_type.values()) == 401_207


def test_sia_counts_equal_direct_row_counts():
    table = compare_periods(sia_rows(CURRENT, BASELINE), current_months=5, baseline_months=5)
    now, before = polars_counts(CURRENT), polars_counts(BASELINE)
    for kind in THEMES:
        row = table.row(kind)
        assert (row.current, row.baseline) == (now[kind], before[kind])
    for theme_row in table.themes():
        members = [k for k, t in THEMES.items() if t == theme_row.theme]
        assert theme_row.current == sum(now[k] for k in members)
        assert theme_row.baseline == sum(before[k] for k in members)
    assert sum(r.current for r in table.categories()) == sum(now.values())


def test_sia_significance_agrees_with_an_independent_calculation():
    table = compare_periods(sia_rows(CURRENT, BASELINE), current_months=5, baseline_months=5)
    p = np.array(
        [stats.binomtest(r.current, r.current + r.baseline, 0.5).pvalue for r in table.rows]
    )
    q = stats.false_discovery_control(p)
    assert_allclose([r.p_value for r in table.rows], p, rtol=1e-6, atol=1e-300)
    assert [r.significant for r in table.rows] == list(q < 0.05)
    # Known from the data: violence rose (21,027 -> 23,015) and vehicle crime fell.
    assert table.row("Violence and sexual offences").significant
    assert table.row("Vehicle crime").change_pct < 0 and table.row("Vehicle crime").significant
    assert not table.row("Criminal damage and arson").significant  # 7,826 -> 7,835


def test_sia_over_a_year_with_a_missing_month_compares_monthly_rates():
    # 2021-07..2022-06 has 11 months of data (2022-01 missing) against 12 before it.
    data = load()
    current = [m for m in month_range("2021-07", "2022-06") if m in data.months]
    baseline = month_range("2020-07", "2021-06")
    assert len(current) == 11 and all(m in data.months for m in baseline)
    table = compare_periods(sia_rows(current, baseline), current_months=11, baseline_months=12)
    for row in table.categories():
        rate_change = 100 * ((row.current / 11) / (row.baseline / 12) - 1)
        assert row.change_pct == pytest.approx(rate_change)
        independent = stats.binomtest(row.current, row.current + row.baseline, 11 / 23).pvalue
        assert row.p_value == pytest.approx(independent, rel=1e-6, abs=1e-300)
    texts = [
        f.text
        for f in findings(
            table, area_name="Northumbria", period_label="2021/22", baseline_label="2020/21"
        )
    ]
    assert all("a month on average" in t for t in texts if "creased by" in t)
    assert any("in the 11 months of 2021/22" in t for t in texts)


# --------------------------------------------------------------------------------------
# Peer comparison with Census 2011 populations
# --------------------------------------------------------------------------------------


@cache
def lsoa_lad_population() -> tuple[dict[str, str], dict[str, int]]:
    lad_of: dict[str, str] = {}
    population: Counter[str] = Counter()
    with POPULATION.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            if row[2] in LADS:
                lad_of[row[6]] = row[2]
                population[row[2]] += int(row[9].replace(",", ""))
    return lad_of, dict(population)


def test_peer_comparison_of_burglary_rates_across_northumbria():
    lad_of, population = lsoa_lad_population()
    months = month_range("2021-01", "2021-12")
    counts: Counter[str] = Counter()
    for (m, lsoa, kind), n in load().by_lsoa.items():
        if kind == "Burglary" and m in months and lsoa in lad_of:
            counts[lad_of[lsoa]] += n
    codes = list(LADS)
    pc = peer_comparison(
        codes, [counts[c] for c in codes], [population[c] for c in codes], focus="E08000021"
    )  # Newcastle upon Tyne
    rates = {c: 1000 * counts[c] / population[c] for c in codes}
    rest = [c for c in codes if c != "E08000021"]
    rest_count, rest_pop = sum(counts[c] for c in rest), sum(population[c] for c in rest)
    assert pc.focus_rate == pytest.approx(rates["E08000021"])
    assert pc.rest_rate == pytest.approx(1000 * rest_count / rest_pop)
    assert pc.group_mean_rate == pytest.approx(np.mean(list(rates.values())))
    assert pc.rank == 1 + sum(r > rates["E08000021"] for r in rates.values())
    p0 = population["E08000021"] / (population["E08000021"] + rest_pop)
    expected = stats.binomtest(counts["E08000021"], counts["E08000021"] + rest_count, p0)
    assert pc.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert 250_000 < population["E08000021"] < 300_000  # Census 2011: 280,177


# --------------------------------------------------------------------------------------
# Emerging issues
# --------------------------------------------------------------------------------------


def type_series() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Force-wide monthly counts by crime type; months absent on disk are not labelled."""
    data = load()
    kinds = list(THEMES)
    counts = np.array([[data.by_type[m, k] for m in data.months] for k in kinds], dtype=float)
    return counts, np.array(data.months, dtype="datetime64[M]"), kinds


def test_the_july_2020_asb_collapse_raises_no_false_alarm_afterwards():
    counts, labels, kinds = type_series()
    # Every month whose six-month baseline contains July 2020 (1,368 against ~6,000).
    for month in month_range("2020-08", "2021-01"):
        check = emerging_issues(counts, labels, kinds, month=month).check("Anti-social behaviour")
        base = [load().by_type[m, "Anti-social behaviour"] for m in check.baseline_months]
        assert "2020-07" in check.baseline_months
        assert check.expected == pytest.approx(np.median(base))
        assert check.expected > np.mean(base)  # the mean would have learnt the 1,368
        assert not check.flagged, check.evidence
    # Let July 2020 serve as the seasonal reference for July 2021 (it needs only two
    # earlier months here): the one-year dip of about 0.2 must not be believed.
    july = emerging_issues(counts, labels, kinds, month="2021-07", min_baseline=2)
    check = july.check("Anti-social behaviour")
    assert check.seasonal_months == ("2020-07",)
    assert check.seasonal_factor == 1.0 and not check.flagged


def test_january_2022_is_a_gap_not_a_zero():
    counts, labels, kinds = type_series()
    scan = emerging_issues(counts, labels, kinds, month="2022-01")
    assert scan.n_tested == 0 and not scan.issues
    assert all(c.observed is None and "gap, not a zero" in c.evidence for c in scan.checks)

    feb = emerging_issues(counts, labels, kinds, month="2022-02").check("Anti-social behaviour")
    assert feb.baseline_months == tuple(month_range("2021-07", "2021-12"))
    assert "Jan 2022 missing, skipped" in feb.evidence

    # Had the gap been filled with zeros, it would have entered the baseline.
    at = int(np.searchsorted(labels, np.datetime64("2022-01")))
    zero_counts = np.insert(counts, at, 0.0, axis=1)
    zero_labels = np.insert(labels, at, np.datetime64("2022-01", "M"))
    zero = emerging_issues(zero_counts, zero_labels, kinds, month="2022-02")
    assert "2022-01" in zero.check("Anti-social behaviour").baseline_months


def test_area_by_type_scan_raises_few_alarms_and_explains_each():
    data = load()
    areas = [
        "Newcastle upon Tyne",
        "Sunderland",
        "Northumberland",
        "Gateshead",
        "North Tyneside",
        "South Tyneside",
    ]
    keys, groups, rows = [], [], []
    for area in areas:
        for kind in THEMES:
            keys.append(f"{area} | {kind}")
            groups.append(kind)
            rows.append([data.by_area[m, area, kind] for m in data.months])
    counts, labels = np.array(rows, dtype=float), np.array(data.months, dtype="datetime64[M]")
    flagged = tested = 0
    for month in data.months[3:]:
        scan = emerging_issues(counts, labels, keys, groups=groups, month=month)
        tested += scan.n_tested
        flagged += len(scan.issues)
        for issue in scan.issues:
            assert issue.observed >= 5 and issue.observed > issue.expected
            assert issue.q_value < 0.05 and f"{issue.observed:,} in" in issue.evidence
    # Month-to-month swings in real counts are far wider than Poisson; a test that
    # ignored that would flag about one series in ten. This one flags under one in 20.
    assert tested == 84 * 22  # 2020-08..2022-06 less the missing 2022-01
    assert flagged / tested < 0.05
