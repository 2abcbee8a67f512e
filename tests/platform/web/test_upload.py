"""The data page and the upload page: the same all-or-nothing import as the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from csp_platform.incidents.models import ImportBatch, Incident, Source
from tests.conftest import DATA
from tests.platform.web.conftest import MIDDLESBROUGH, police_files
from tests.platform.web.conftest import VerifiedClient as Client

UPLOAD = reverse("incidents:upload", args=[MIDDLESBROUGH])
LFB_2023 = DATA / "fire" / "lfb_sample_2023" / "lfb_incidents_2023_random_sample_10000.csv"
EXAMPLE_LFB = Path(__file__).resolve().parents[3] / "examples" / "mappings" / "lfb-incidents.yaml"


@pytest.fixture
def data_manager(personas) -> Client:
    client = Client()
    client.force_login(personas["data_manager"])
    return client


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


def test_a_good_police_file_is_imported_and_a_second_upload_adds_nothing(data_manager, personas):
    path = police_files(("2018-10",))[0]
    rows = sum(1 for _ in path.open()) - 1
    before = Incident.objects.count()
    response = data_manager.post(UPLOAD, {"format": "police-uk", "file": upload_file(path)})
    assert response.status_code == 200, response.content[-2000:]
    assert b"Import complete" in response.content
    assert Incident.objects.count() == before + rows
    assert ImportBatch.objects.order_by("-id").first().by_user == "data_manager"
    again = data_manager.post(UPLOAD, {"format": "police-uk", "file": upload_file(path)})
    assert b'data-field="rows_new">0<' in again.content
    assert Incident.objects.count() == before + rows


def test_a_file_with_one_bad_row_imports_nothing(data_manager):
    path = police_files(("2018-10",))[0]
    lines = path.read_text().splitlines()
    lines[500] = lines[500].replace("2018-10", "2018-13", 1)
    before = (Incident.objects.count(), ImportBatch.objects.count())
    response = data_manager.post(
        UPLOAD,
        {"format": "police-uk", "file": upload_file(path, content="\n".join(lines).encode())},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body and path.name in body and "/tmp" not in body
    assert (Incident.objects.count(), ImportBatch.objects.count()) == before


def test_a_partner_file_with_an_uploaded_mapping(data_manager):
    mapping = EXAMPLE_LFB.read_text().replace('date_format: "%d %b %Y"', 'date_format: "%Y-%m-%d"')
    response = data_manager.post(
        UPLOAD,
        {
            "format": "mapped",
            "file": upload_file(LFB_2023),
            "mapping_file": SimpleUploadedFile("lfb-2023.yaml", mapping.encode()),
        },
    )
    assert response.status_code == 200, response.content[-2000:]
    assert Source.objects.filter(code="lfb-incidents").exists()
    assert Incident.objects.filter(source__code="lfb-incidents").count() > 0


def test_a_partner_file_read_with_the_wrong_example_mapping_is_rejected_whole(data_manager):
    before = Incident.objects.count()
    response = data_manager.post(
        UPLOAD, {"format": "mapped", "mapping": "lfb-incidents.yaml", "file": upload_file(LFB_2023)}
    )
    assert response.status_code == 400 and b"Nothing was imported" in response.content
    assert Incident.objects.count() == before


def test_a_dry_run_checks_and_stores_nothing(data_manager):
    before = Incident.objects.count()
    path = police_files(("2018-10",))[0]
    response = data_manager.post(
        UPLOAD, {"format": "police-uk", "dry_run": "on", "file": upload_file(path)}
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


def test_the_fragment_answer_for_the_progress_display(data_manager):
    path = police_files(("2018-10",))[0]
    response = data_manager.post(
        UPLOAD,
        {"format": "police-uk", "dry_run": "on", "file": upload_file(path)},
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
