"""Each partnership sees only its own (issue 9, item 4): the data page, the quality report
and the hub's source filter; the admin site is for superusers only; the demo's
administrator is not one."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from csp_platform.core.models import Membership, Organisation, Partnership, Role
from csp_platform.demo import services as demo_services
from csp_platform.incidents import selectors as incident_selectors
from tests.platform.web.conftest import PASSWORD, authenticator_enrol
from tests.platform.web.conftest import VerifiedClient as Client
from tests.platform.web.files import police_file_as_partner_mapping, police_rows_in
from tests.platform.web.test_ownership import client_for, member


@pytest.fixture
def middlesbrough_uploads(personas):
    """Two uploads through Middlesbrough's page: police rows by a force member, and a
    council source of its own (legitimate, in Middlesbrough's district)."""
    police = client_for(member("middlesbrough", "cleveland-police"))
    name, content, _ = police_rows_in("middlesbrough")
    upload = reverse("incidents:upload", args=["middlesbrough"])
    response = police.post(
        upload, {"format": "police-uk", "file": SimpleUploadedFile("mbro-rows.csv", content)}
    )
    assert response.status_code == 200
    mapping = police_file_as_partner_mapping(
        code="middlesbrough-council-asb", organisation="Middlesbrough Council"
    )
    council = client_for(personas["data_manager"])
    response = council.post(
        upload,
        {
            "format": "mapped",
            "file": SimpleUploadedFile(name, content),
            "mapping_file": SimpleUploadedFile("mbro.yaml", mapping),
        },
    )
    assert response.status_code == 200


def test_the_data_page_lists_only_the_partnerships_own_uploads_and_sources(
    middlesbrough_uploads,
):
    redcar = client_for(member("redcar-cleveland", "redcar-cleveland-council"))
    page = redcar.get(reverse("incidents:data", args=["redcar-cleveland"])).content.decode()
    assert "Cleveland Police street-level crime" in page  # the force's shared source
    assert "mbro-rows.csv" not in page and "data_manager-cleveland-police" not in page
    assert "middlesbrough-council-asb" not in page  # nor Middlesbrough's own source
    own = client_for(member("middlesbrough", "middlesbrough-council", Role.ANALYST))
    page = own.get(reverse("incidents:data", args=["middlesbrough"])).content.decode()
    assert "mbro-rows.csv" in page and "middlesbrough-council-asb" in page
    # the quality report counts only the imports the partnership may see
    batches = {
        slug: {
            q.code: q.batches
            for q in incident_selectors.quality_report(
                partnership=Partnership.objects.get(slug=slug)
            )
        }
        for slug in ("redcar-cleveland", "middlesbrough")
    }
    assert batches["redcar-cleveland"] == {"police-uk-cleveland-police": 1}
    assert batches["middlesbrough"] == {
        "middlesbrough-council-asb": 1,
        "police-uk-cleveland-police": 2,
    }


def test_the_hub_source_filter_offers_only_visible_sources(middlesbrough_uploads):
    redcar = client_for(member("redcar-cleveland", "redcar-cleveland-council", Role.ANALYST))
    page = redcar.get(reverse("hub:hub", args=["redcar-cleveland"])).content.decode()
    assert 'value="police-uk-cleveland-police"' in page
    assert "middlesbrough-council-asb" not in page
    own = client_for(member("middlesbrough", "middlesbrough-council", Role.ANALYST))
    page = own.get(reverse("hub:hub", args=["middlesbrough"])).content.decode()
    assert 'value="middlesbrough-council-asb"' in page


def test_a_staff_user_with_membership_permissions_cannot_use_the_admin(personas, caplog):
    """The reported attack: a staff user of Redcar & Cleveland, given the membership
    permissions, made itself an administrator of Middlesbrough in the admin site."""
    user = member("redcar-cleveland", "redcar-cleveland-council", Role.ADMINISTRATOR)
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="core", codename__contains="membership")
    )
    client = Client()
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    with caplog.at_level(logging.WARNING, logger="csp.security"):
        response = client.post(
            "/admin/core/membership/add/",
            {
                "user": user.pk,
                "partnership": Partnership.objects.get(slug="middlesbrough").pk,
                "organisation": Organisation.objects.get(slug="middlesbrough-council").pk,
                "role": Role.ADMINISTRATOR.value,
            },
        )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Membership.objects.filter(user=user, partnership__slug="middlesbrough").exists()
    refused = [json.loads(r.getMessage()) for r in caplog.records if r.name == "csp.security"]
    assert {
        "event": "admin_refused",
        "user": user.username,
        "path": "/admin/core/membership/add/",
    } in refused
    assert client.get(reverse("hub:hub", args=["middlesbrough"])).status_code == 404


def test_a_superuser_still_uses_the_admin(personas):
    admin = get_user_model().objects.create_superuser("developer", password=PASSWORD)
    authenticator_enrol(admin)  # the admin site needs the second factor too
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/core/membership/").status_code == 200


def test_the_demo_administrator_is_not_a_superuser(personas):
    logins = demo_services.demo_users_reset("middlesbrough")
    users = get_user_model().objects.filter(username__in=[x.username for x in logins])
    assert users.count() == len(demo_services.DEMO_USERS)
    assert not users.filter(is_superuser=True).exists()
    assert not users.filter(is_staff=True).exists()
    demo = Membership.objects.get(user__username="demo", partnership__slug="middlesbrough")
    assert demo.role == Role.ADMINISTRATOR
