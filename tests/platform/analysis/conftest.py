"""Real Northumbria data for the analysis tests: imported once, removed afterwards.

The 25 monthly police.uk files for Northumbria (2020-05 to 2022-06, 2022-01 missing) go
through the real import with the Newcastle upon Tyne district (E08000021), its 2013 wards and
2011 LSOAs with census population. They are committed once for this package, because the
backtest needs the whole series, and deleted when the package's tests end, so no other test
sees them. Cleveland data are imported inside each test that needs them (rolled back).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from csp_platform.areas import services as area_services
from csp_platform.areas.models import Area
from csp_platform.incidents import services as incident_services
from csp_platform.incidents.models import AreaMonthCount, ImportBatch, Incident, Source
from tests.conftest import DATA

NEWCASTLE = "E08000021"
NORTHUMBRIA = DATA / "police" / "northumbria"


@dataclass(frozen=True)
class Northumbria:
    source: str
    files: list[Path]
    district: str = NEWCASTLE


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a police.uk file with the csv module (independent of the importer)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
        yield from csv.DictReader(fh)


@pytest.fixture(scope="package")
def northumbria(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[Northumbria]:
    files = sorted(NORTHUMBRIA.glob("*/*-northumbria-street.csv.gz"))
    assert len(files) == 25, f"expected the 25 Northumbria months in {NORTHUMBRIA}"
    bounds = DATA / "boundaries"
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        for level, folder in (
            ("district", "districts_2011"),
            ("ward", "wards_2013"),
            ("lsoa", "lsoa_2011"),
        ):
            area_services.areas_import([bounds / folder / f"{NEWCASTLE}.geojson"], level=level)
        area_services.population_import(
            DATA / "population" / "census2011_lsoa_population_households.csv"
        )
        result = incident_services.police_uk_import(files)
        assert result.rows_new == 401_207  # SOURCES.md section 8: every row of the 25 months
        (code,) = result.sources
    yield Northumbria(code, files)
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        source = Source.objects.get(code=code)
        Incident.objects.filter(source=source).delete()
        AreaMonthCount.objects.filter(source=source).delete()
        ImportBatch.objects.filter(source=source).delete()
        organisation = source.organisation
        source.delete()
        organisation.delete()
        newcastle = Area.objects.filter(code=NEWCASTLE, level="district")
        Area.objects.filter(parent__in=newcastle).delete()
        newcastle.delete()
