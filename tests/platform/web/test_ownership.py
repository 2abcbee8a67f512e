"""Partners cannot write into each other's data (issue 9, item 1).

Each attack is made through the upload page by a data manager of one Cleveland partnership
against another (Redcar & Cleveland against Middlesbrough, and the reverse), with rows cut
from the real police.uk files; each passed on the code before ownership.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from csp_platform.areas.models import Area
from csp_platform.core import services as core_services
from csp_platform.core.models import Organisation, Partnership, Role
from csp_platform.incidents import services
from csp_platform.incidents.models import (
    AggregateRecord,
    Crosswalk,
    ImportBatch,
    Incident,
    Source,
)
from csp_platform.incidents.reference import crosswalk_save
from tests.conftest import DATA, ROOT
from tests.platform.web.conftest import PASSWORD, police_files
from tests.platform.web.files import police_file_as_partner_mapping, police_rows_in

DISTRICT = {"middlesbrough": "E06000002", "redcar-cleveland": "E06000003"}
COUNCIL = {
    "middlesbrough": "Middlesbrough Council",
    "redcar-cleveland": "Redcar and Cleveland Borough Council",
}
DIRECTIONS = [("redcar-cleveland", "middlesbrough"), ("middlesbrough", "redcar-cleveland")]
HOSTILE_CATEGORIES = {"Violence and sexual offences": "littering"}


def member(partnership: str, organisation: str, role: Role = Role.DATA_MANAGER) -> Any:
    user = get_user_model().objects.create_user(
        username=f"{role.value}-{organisation}-in-{partnership}", password=PASSWORD
    )
    core_services.membership_set(
        user=user,
        partnership=Partnership.objects.get(slug=partnership),
        organisation=Organisation.objects.get(slug=organisation),
        role=role,
    )
    return user


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def council_dm(partnership: str) -> Client:
    return client_for(member(partnership, f"{partnership}-council"))


def police_dm(partnership: str) -> Client:
    return client_for(member(partnership, "cleveland-police"))


def upload(client: Client, partnership: str, data: dict[str, Any]) -> Any:
    return client.post(reverse("incidents:upload", args=[partnership]), data)


def police_upload(client: Client, partnership: str, rows_of: str, **kw: Any) -> Any:
    name, content, _ = police_rows_in(rows_of, **kw)
    return upload(
        client, partnership, {"format": "police-uk", "file": SimpleUploadedFile(name, content)}
    )


def mapped_upload(
    client: Client, partnership: str, rows_of: str, mapping: bytes, month: str = "2018-10", **kw
) -> Any:
    name, content, _ = police_rows_in(rows_of, month, **kw)
    return upload(
        client,
        partnership,
        {
            "format": "mapped",
            "file": SimpleUploadedFile(name, content),
            "mapping_file": SimpleUploadedFile("partner.yaml", mapping),
        },
    )


def why(response: Any) -> str:
    """The rejection or form error an upload page shows."""
    body = response.content.decode()
    start = body.find('id="upload-rejected"')
    return body[start : start + 1500] if start >= 0 else body[-1500:]


def in_district(partnership: str, category: str | None = None) -> int:
    qs = Incident.objects.filter(district__code=DISTRICT[partnership])
    if category:
        qs = qs.filter(category__code=category)
    return qs.count()


def snapshot(partnership: str) -> tuple[int, int, int]:
    return (
        in_district(partnership),
        in_district(partnership, "violence-and-sexual-offences"),
        in_district(partnership, "anti-social-behaviour"),
    )


@pytest.mark.parametrize("attacker, victim", DIRECTIONS)
def test_police_rows_in_another_partnerships_district_are_refused(personas, attacker, victim):
    before = snapshot(victim), Incident.objects.count()
    response = police_upload(council_dm(attacker), attacker, victim)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body and "Cleveland Police" in body
    # a member of the force in the attacker's partnership cannot write there either
    response = police_upload(police_dm(attacker), attacker, victim)
    assert response.status_code == 400
    body = response.content.decode()
    name = Partnership.objects.get(slug=attacker).name
    assert "outside" in body and "districts" in body and "row 2" in body
    assert name.replace("&", "&amp;") in body
    assert (snapshot(victim), Incident.objects.count()) == before


@pytest.mark.parametrize("attacker, victim", DIRECTIONS)
def test_a_force_member_adds_police_rows_of_their_own_partnership(personas, attacker, victim):
    _, _, rows = police_rows_in(attacker)
    before = snapshot(victim)
    response = police_upload(police_dm(attacker), attacker, attacker)
    assert response.status_code == 200, why(response)
    batch = ImportBatch.objects.order_by("-id").first()
    assert (Incident.objects.filter(batch=batch).count(), snapshot(victim)) == (rows, before)
    assert batch.source.code == "police-uk-cleveland-police"
    assert batch.organisation.slug == "cleveland-police" and batch.partnership.slug == attacker


@pytest.mark.parametrize("attacker, victim", DIRECTIONS)
def test_a_mapping_cannot_take_over_the_forces_source_and_crosswalk(personas, attacker, victim):
    before = snapshot(victim), Crosswalk.objects.count(), Incident.objects.count()
    mapping = police_file_as_partner_mapping(
        code="police-uk-cleveland-police",
        organisation=COUNCIL[attacker],
        categories=HOSTILE_CATEGORIES,
        exclude=("Anti-social behaviour",),
    )
    response = mapped_upload(council_dm(attacker), attacker, attacker, mapping)
    assert response.status_code == 400
    assert "belongs to Cleveland Police" in response.content.decode()
    assert (snapshot(victim), Crosswalk.objects.count(), Incident.objects.count()) == before


@pytest.mark.parametrize("attacker, victim", DIRECTIONS)
def test_a_partners_crosswalk_re_maps_only_its_own_sources(personas, attacker, victim):
    before = snapshot(victim), in_district(attacker, "violence-and-sexual-offences")
    code = f"{attacker}-copy-of-police-uk"
    mapping = police_file_as_partner_mapping(
        code=code,
        organisation=COUNCIL[attacker],
        categories=HOSTILE_CATEGORIES,
        exclude=("Anti-social behaviour",),
    )
    client = council_dm(attacker)
    response = mapped_upload(client, attacker, attacker, mapping)
    assert response.status_code == 200, why(response)
    assert snapshot(victim) == before[0]  # Middlesbrough's violence is still violence
    assert in_district(attacker, "violence-and-sexual-offences") == before[1]  # the force's
    source = Source.objects.get(code=code)
    assert source.organisation.slug == f"{attacker}-council"
    assert source.partnership.slug == attacker
    assert Incident.objects.filter(source=source, category__code="littering").exists()
    mine = Crosswalk.objects.get(scheme="police-uk", organisation=source.organisation)
    reference = Crosswalk.objects.get(scheme="police-uk", organisation=None)
    assert (mine.version, mine.replaces, reference.version) == (1, reference, 1)
    assert mine.created_by.startswith("data_manager-") and mine.created_at is not None
    # a mapping naming another organisation is refused
    other = police_file_as_partner_mapping(code="x-" + code, organisation="Cleveland Police")
    response = mapped_upload(client, attacker, attacker, other)
    assert response.status_code == 400 and "you upload for" in response.content.decode()


def test_a_crosswalk_change_is_reversible_by_service_and_command(personas):
    attacker = "redcar-cleveland"
    code = "redcar-own-source"
    good = police_file_as_partner_mapping(
        code=code,
        organisation=COUNCIL[attacker],
        categories={"Violence and sexual offences": "violence-and-sexual-offences"},
    )
    client = council_dm(attacker)
    assert mapped_upload(client, attacker, attacker, good).status_code == 200
    violence = Incident.objects.filter(
        source__code=code, category__code="violence-and-sexual-offences"
    ).count()
    assert violence > 0
    bad = police_file_as_partner_mapping(
        code=code, organisation=COUNCIL[attacker], categories=HOSTILE_CATEGORIES
    )
    response = mapped_upload(client, attacker, attacker, bad)
    assert response.status_code == 200 and b"re-mapped" in response.content
    assert Incident.objects.filter(source__code=code, category__code="littering").count() == (
        violence
    )
    org = Organisation.objects.get(slug=f"{attacker}-council")
    out = StringIO()
    call_command("csp_crosswalk", "history", "police-uk", "--organisation", org.slug, stdout=out)
    history = out.getvalue()
    assert "v2:" in history and "v1:" in history and "changed 1" in history
    dry = StringIO()
    call_command(
        "csp_crosswalk", "revert", "police-uk", "--organisation", org.slug, "--to", "1", stdout=dry
    )
    assert "dry run" in dry.getvalue()
    assert Incident.objects.filter(source__code=code, category__code="littering").exists()
    saved, remapped = services.crosswalk_revert(
        scheme="police-uk", organisation=org, to_version=1, by_user="someone"
    )
    assert (saved.version, saved.created_by, remapped) == (3, "someone", violence)
    assert not Incident.objects.filter(source__code=code, category__code="littering").exists()
    with pytest.raises(CommandError, match="no version 9"):
        call_command(
            "csp_crosswalk", "revert", "police-uk", "--organisation", org.slug, "--to", "9"
        )


@pytest.mark.parametrize("attacker, victim", DIRECTIONS)
def test_a_mapping_cannot_publish_exact_points_as_map_points(personas, attacker, victim):
    code = f"{attacker}-private-addresses"
    mapping = police_file_as_partner_mapping(
        code=code, organisation=COUNCIL[attacker], precision="snap"
    )
    client = council_dm(attacker)
    # exact addresses: every point moved 2 m off the published police.uk map points
    response = mapped_upload(client, attacker, attacker, mapping, shift=0.00002)
    assert response.status_code == 200, why(response)
    assert b"not at a police.uk map point" in response.content
    rows = Incident.objects.filter(source__code=code)
    assert rows.exists()
    assert not rows.exclude(place__location_precision="exact").exists()
    # a row truly at a police.uk map point (a month already imported) keeps the map point
    response = mapped_upload(client, attacker, attacker, mapping, month="2018-11")
    assert response.status_code == 200, why(response)
    november = Incident.objects.filter(source__code=code, month__month=11)
    assert november.filter(place__location_precision="snap").exists()


def test_the_operator_names_the_owning_organisation(personas):
    path = police_files(("2018-10",))[0]
    with pytest.raises(CommandError, match="no organisation"):
        call_command(
            "csp_import_incidents", "--format", "police-uk", str(path),
            "--organisation", "no-such-organisation", stdout=StringIO(),
        )  # fmt: skip
    call_command(
        "csp_import_incidents", "--format", "police-uk", str(path),
        "--organisation", "cleveland-police", stdout=StringIO(),
    )  # fmt: skip
    batch = ImportBatch.objects.order_by("-id").first()
    assert batch.organisation.slug == "cleveland-police" and batch.partnership is None
    assert batch.source.partnership is None  # the force's source is shared


FMS = DATA / "council" / "fixmystreet_lsoa_monthly" / "lsoa_all_shef_a"
FMS_MAPPING = ROOT / "examples" / "mappings" / "fixmystreet-lsoa-monthly.yaml"


def test_an_aggregate_return_with_areas_outside_the_partnership_is_refused(personas):
    """FixMyStreet's national counts, sent as Middlesbrough Council's: most LSOAs are
    elsewhere, so the file is refused; the Middlesbrough rows alone are accepted."""
    path = FMS / "fms_lsoa_shef_a_2018-01.csv"
    mapping = FMS_MAPPING.read_text().replace(
        "organisation: FixMyStreet (mySociety)", "organisation: Middlesbrough Council"
    )
    client = council_dm("middlesbrough")

    def send(content: bytes) -> Any:
        return upload(
            client,
            "middlesbrough",
            {
                "format": "mapped",
                "file": SimpleUploadedFile(path.name, content),
                "mapping_file": SimpleUploadedFile("fms.yaml", mapping.encode()),
            },
        )

    response = send(path.read_bytes())
    assert response.status_code == 400
    assert "outside Middlesbrough Community Safety Partnership" in response.content.decode()
    assert not AggregateRecord.objects.exists()
    ours = set(
        Area.objects.filter(level="lsoa", parent__code=DISTRICT["middlesbrough"]).values_list(
            "code", flat=True
        )
    )
    lines = path.read_text().splitlines()
    kept = [lines[0], *[x for x in lines[1:] if x.split(",")[0] in ours]]
    assert len(kept) > 10
    response = send(("\n".join(kept) + "\n").encode())
    assert response.status_code == 200, why(response)
    assert AggregateRecord.objects.filter(source__code="fixmystreet-lsoa").exists()


def test_a_forces_own_police_uk_crosswalk_applies_to_its_new_rows(personas):
    """The operator imports without --organisation: rows are read with the reference
    crosswalk, then the force's own version (if it keeps one) is applied to its source."""
    force = Organisation.objects.get(slug="cleveland-police")
    reference = dict(
        Crosswalk.objects.get(scheme="police-uk", organisation=None).entries.values_list(
            "source_value", "category__code"
        )
    )
    own = {**reference, "Violence and sexual offences": "public-order"}
    crosswalk_save("police-uk", own, [], organisation=force, by_user="force analyst")
    services.crosswalk_remap("police-uk", force)
    services.police_uk_import(police_files(("2018-10",)))
    october = Incident.objects.filter(source__code="police-uk-cleveland-police", month__month=10)
    assert october.filter(source_category="Violence and sexual offences").exists()
    assert not october.filter(category__code="violence-and-sexual-offences").exists()
    # the reference itself, and so every other organisation's sources, are unchanged
    assert Crosswalk.objects.filter(scheme="police-uk", organisation=None).count() == 1


def test_the_command_reverts_an_organisation_to_the_reference_crosswalk(personas):
    code = "redcar-partial-mapping"
    mapping = police_file_as_partner_mapping(
        code=code, organisation=COUNCIL["redcar-cleveland"], categories=HOSTILE_CATEGORIES
    )
    client = council_dm("redcar-cleveland")
    assert mapped_upload(client, "redcar-cleveland", "redcar-cleveland", mapping).status_code == 200
    rows = Incident.objects.filter(source__code=code)
    assert rows.filter(category__code="littering").exists()
    out = StringIO()
    call_command(
        "csp_crosswalk",
        "revert",
        "police-uk",
        "--organisation",
        "redcar-cleveland-council",
        "--to",
        "1",
        "--from-reference",
        "--commit",
        stdout=out,
    )
    assert out.getvalue().startswith("reverted police-uk to version 1")
    assert not rows.filter(category__code="littering").exists()
    assert rows.filter(category__code="anti-social-behaviour").exists()
    latest = Crosswalk.objects.filter(organisation__slug="redcar-cleveland-council").first()
    assert (latest.version, latest.created_by) == (2, "command line")
