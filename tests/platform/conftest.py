"""Platform test fixtures: real boundaries imported once per session, real files per test."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from csp_platform.areas import services as area_services
from csp_platform.incidents import selectors as incident_selectors
from csp_platform.incidents.scope import FULL_ACCESS, scope_resolve
from tests.conftest import DATA

CLEVELAND = ("E06000001", "E06000002", "E06000003", "E06000004")
REFERENCE = Path(__file__).resolve().parents[2] / "src/csp_platform/incidents/reference"


@pytest.fixture(scope="session", autouse=True)
def _audit_tables_flushable() -> Iterator[None]:
    """The flush between live-server and transactional tests empties every table, the
    append-only audit tables included: as their owner would, it lifts the triggers for the
    flush only (core.audit.triggers_lifted). Nothing else in the suite can change a row."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from csp_platform.core import audit

    original = BaseDatabaseOperations.execute_sql_flush

    def flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        with audit.triggers_lifted(self.connection.alias):
            original(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def cleveland_areas(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> None:
    """Cleveland's districts, 2013 wards and 2011 LSOAs, committed once for the session."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        bounds = DATA / "boundaries"
        area_services.areas_import(
            [bounds / "districts_2011" / f"{c}.geojson" for c in CLEVELAND], level="district"
        )
        area_services.areas_import(
            [bounds / "wards_2013" / f"{c}.geojson" for c in CLEVELAND], level="ward"
        )
        area_services.areas_import(
            [bounds / "lsoa_2011" / f"{c}.geojson" for c in CLEVELAND], level="lsoa"
        )
        area_services.population_import(
            DATA / "population" / "census2011_lsoa_population_households.csv"
        )


def count_rows(
    by: tuple[str, ...], month_from: object = None, month_to: object = None, **scope: object
) -> incident_selectors.CountTable:
    """``csp counts`` as the command runs it: the scope resolved once with full access
    (area, sources, categories, themes, generation), then the breakdown."""
    query = incident_selectors.CountQuery(by=by, month_from=month_from, month_to=month_to)  # type: ignore[arg-type]
    return incident_selectors.counts(scope_resolve(FULL_ACCESS, **scope), query)  # type: ignore[arg-type]


def police_uk_category() -> dict[str, str]:
    """police.uk crime type -> canonical code, read from the shipped crosswalk file."""
    with (REFERENCE / "police-uk.yaml").open() as fh:
        return dict(yaml.safe_load(fh)["categories"])


def raw_rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
        yield from csv.DictReader(fh)


def raw_police_counts(paths: list[Path]) -> Counter[tuple[str, str]]:
    """(month, canonical category) -> rows, counted straight from the CSV files."""
    to_code = police_uk_category()
    return Counter((r["Month"], to_code[r["Crime type"]]) for p in paths for r in raw_rows(p))


@pytest.fixture
def cleveland_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "police" / "cleveland").rglob("*-street.csv"))


# Subprocesses on a database of their own (killed imports, migrations)

CSP = [sys.executable, "-c", "from csp_platform.cli import main; main()"]


@pytest.fixture
def fresh_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for subprocesses with a database of their own, on the suite's engine."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    url = os.environ.get("DATABASE_URL")
    if not url:
        env["CSP_VAR_DIR"] = str(tmp_path)
        yield env
        return
    import psycopg

    name = f"csp_kill_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    yield env
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*CSP, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout
