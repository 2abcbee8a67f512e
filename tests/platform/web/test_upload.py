"""The data page and the upload page: the same all-or-nothing import as the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from csp_platform.core import services as core_services
from csp_platform.core.models import Organisation, Partnership, Role
from csp_platform.incidents.models import ImportBatch, Incident, Source
from tests.conftest import DATA
from tests.platform.web.conftest import MIDDLESBROUGH, PASSWORD, police_files
from tests.platform.web.conftest import VerifiedClient as Client
from tests.platform.web.files import police_file_as_partner_mapping, police_rows_in

UPLOAD = reverse("incidents:upload", args=[MIDDLESBROUGH])
LFB_2023 = DATA / "fire" / "lfb_sample_2023" / "lfb_incidents_2023_random_sample_10000.csv"
EXAMPLE_LFB = Path(__file__).resolve().parents[3] / "examples" / "mappings" / "lfb-incidents.yaml"


@pytest.fixture
def data_manager(personas) -> Client:
    """Middlesbrough Council's data manager."""
    client = Client()
    client.force_login(personas["data_manager"])
    return client


@pytest.fixture
def police_data_manager(personas) -> Client:
    """A data manager of Cleveland Police in Middlesbrough: adds to the force's source."""
    user = get_user_model().objects.create_user(username="police-dm", password=PASSWORD)
    core_services.membership_set(
        user=user,
        partnership=Partnership.objects.get(slug=MIDDLESBROUGH),
        organisation=Organisation.objects.get(slug="cleveland-police"),
        role=Role.DATA_MANAGER,
    )
    client = Client()
    client.force_login(user)
    return client


def middlesbrough_rows(month: str = "2018-10") -> tuple[SimpleUploadedFile, int]:
    name, content, rows = police_rows_in(MIDDLESBROUGH, month)
    return SimpleUploadedFile(name, content), rows


def upload_file(
    path: Path, name: str | None = None, content: bytes | None = None
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes() if content is None else content)


def test_the_data_page_lists_sources_months_and_quality(personas):
    client = Client()
    client.force_login(personas["analyst"])
    page = client.get(reverse("incidents:data", args=[MIDDLESBROUGH])).content.decode()
    assert "Cleveland Police street-level crime" in page
    assert "2018-11 to 2019-02" in page and "Quality report" in page
    assert "Upload a file" not in page  # analysts read the data page but do not upload


def test_a_good_police_file_is_imported_and_a_second_upload_adds_nothing(police_data_manager):
    upload, rows = middlesbrough_rows()
    before = Incident.objects.count()
    response = police_data_manager.post(UPLOAD, {"format": "police-uk", "file": upload})
    assert response.status_code == 200, response.content[-2000:]
    assert b"Import complete" in response.content
    assert Incident.objects.count() == before + rows
    assert ImportBatch.objects.order_by("-id").first().by_user == "police-dm"
    again = police_data_manager.post(
        UPLOAD, {"format": "police-uk", "file": middlesbrough_rows()[0]}
    )
    assert b'data-field="rows_new">0<' in again.content
    assert Incident.objects.count() == before + rows


def test_a_police_file_is_added_only_by_the_force(data_manager):
    before = Incident.objects.count()
    response = data_manager.post(UPLOAD, {"format": "police-uk", "file": middlesbrough_rows()[0]})
    assert response.status_code == 400
    assert "you upload for Middlesbrough Council" in response.content.decode()
    assert Incident.objects.count() == before


def test_a_file_with_one_bad_row_imports_nothing(police_data_manager):
    path = police_files(("2018-10",))[0]
    lines = path.read_text().splitlines()
    lines[500] = lines[500].replace("2018-10", "2018-13", 1)
    before = (Incident.objects.count(), ImportBatch.objects.count())
    response = police_data_manager.post(
        UPLOAD,
        {"format": "police-uk", "file": upload_file(path, content="\n".join(lines).encode())},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body and path.name in body and "/tmp" not in body
    assert (Incident.objects.count(), ImportBatch.objects.count()) == before


def test_a_partner_file_with_an_uploaded_mapping(data_manager):
    mapping = police_file_as_partner_mapping(
        code="middlesbrough-asb", organisation="Middlesbrough Council"
    )
    upload, rows = middlesbrough_rows()
    response = data_manager.post(
        UPLOAD,
        {
            "format": "mapped",
            "file": upload,
            "mapping_file": SimpleUploadedFile("middlesbrough-asb.yaml", mapping),
        },
    )
    assert response.status_code == 200, response.content[-2000:]
    source = Source.objects.get(code="middlesbrough-asb")
    assert (source.organisation.slug, source.partnership.slug) == (
        "middlesbrough-council",
        MIDDLESBROUGH,
    )
    assert Incident.objects.filter(source=source).count() == rows


def test_a_partner_file_with_rows_outside_the_partnership_is_refused_whole(data_manager):
    """London Fire Brigade's sample, read as Middlesbrough Council's: every row is in London."""
    mapping = EXAMPLE_LFB.read_text().replace('date_format: "%d %b %Y"', 'date_format: "%Y-%m-%d"')
    mapping = mapping.replace(
        "organisation: London Fire Brigade", "organisation: Middlesbrough Council"
    )
    before = Incident.objects.count()
    response = data_manager.post(
        UPLOAD,
        {
            "format": "mapped",
            "file": upload_file(LFB_2023),
            "mapping_file": SimpleUploadedFile("lfb-2023.yaml", mapping.encode()),
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "outside Middlesbrough Community Safety Partnership" in body
    assert "lfb_incidents_2023_random_sample_10000.csv: row " in body
    assert Incident.objects.count() == before and not Source.objects.filter(code="lfb-incidents")


def test_a_partner_file_read_with_the_wrong_example_mapping_is_rejected_whole(data_manager):
    before = Incident.objects.count()
    response = data_manager.post(
        UPLOAD, {"format": "mapped", "mapping": "lfb-incidents.yaml", "file": upload_file(LFB_2023)}
    )
    assert response.status_code == 400 and b"Nothing was imported" in response.content
    assert Incident.objects.count() == before


def test_a_dry_run_checks_and_stores_nothing(police_data_manager):
    before = Incident.objects.count()
    response = police_data_manager.post(
        UPLOAD, {"format": "police-uk", "dry_run": "on", "file": middlesbrough_rows()[0]}
    )
    assert b"Check passed: nothing stored" in response.content
    assert Incident.objects.count() == before


def test_a_partner_file_needs_a_mapping(data_manager):
    response = data_manager.post(UPLOAD, {"format": "mapped", "file": upload_file(LFB_2023)})
    assert response.status_code == 400 and b"Choose a mapping" in response.content


@override_settings(CSP_MAX_UPLOAD_MB=1)
def test_a_file_over_the_size_limit_is_refused(data_manager):
    before = Incident.objects.count()
    response = data_manager.post(UPLOAD, {"format": "police-uk", "file": upload_file(LFB_2023)})
    assert response.status_code == 400 and b"smaller than 1 MB" in response.content
    assert Incident.objects.count() == before


def test_the_fragment_answer_for_the_progress_display(police_data_manager):
    response = police_data_manager.post(
        UPLOAD,
        {"format": "police-uk", "dry_run": "on", "file": middlesbrough_rows()[0]},
        headers={"X-CSP-Fragment": "result"},
    )
    assert response.status_code == 200
    assert b"<html" not in response.content and b"upload-accepted" in response.content


def test_uploads_need_a_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["data_manager"])
    path = police_files(("2018-10",))[0]
    before = Incident.objects.count()
    response = client.post(UPLOAD, {"format": "police-uk", "file": upload_file(path)})
    assert response.status_code == 403 and Incident.objects.count() == before
