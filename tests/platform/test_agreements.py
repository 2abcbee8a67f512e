"""Information-sharing agreements as data: sharing outside an active agreement is refused,
every change is audited with its before and after values, and an agreement loads from YAML
(a dry run unless --commit) with errors that name the file and the field."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from csp_platform.core import selectors, services
from csp_platform.core.errors import ImportRejected
from csp_platform.core.models import AuditEvent, Organisation, Partnership, Role, SharingAgreement
from csp_platform.core.services import OutsideAgreement

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs() -> dict[str, Organisation]:
    made = {
        slug: Organisation.objects.create(slug=slug, name=name)
        for slug, name in [
            ("police", "Test Police"),
            ("council", "Test Council"),
            ("fire", "Test Fire"),
        ]
    }
    partnership = Partnership.objects.create(slug="test-csp", name="Test CSP")
    partnership.organisations.add(*made.values())
    return made


def agreement(orgs, **overrides):  # type: ignore[no-untyped-def]
    values = {
        "reference": "isa-001",
        "title": "Police and council: ASB hotspots",
        "partnership": Partnership.objects.get(slug="test-csp"),
        "parties": [orgs["police"], orgs["council"]],
        "purposes": ["ASB tasking", "Strategic assessment"],
        "data_classes": ["incident_points", "incident_aggregates"],
        "legal_bases": ["cda_1998_s115", "cda_1998_s17a"],
        "conditions": ["uk_gdpr_6_1_e", "dpa_2018_s35"],
        "start": date(2025, 4, 1),
        "review": date(2026, 4, 1),
        "end": date(2027, 3, 31),
        "status": "active",
        **overrides,
    }
    return services.isa_create(**values)


ON = date(2026, 1, 15)


def test_sharing_inside_an_active_agreement_names_the_agreement(orgs):
    made = agreement(orgs)
    found = services.isa_check(
        orgs["council"], orgs["police"], "incident_points", "asb tasking", on=ON
    )
    assert found == made


@pytest.mark.parametrize(
    "to, data_class, purpose, on",
    [
        ("fire", "incident_points", "ASB tasking", ON),  # not a party
        ("council", "personal", "ASB tasking", ON),  # data class not covered
        ("council", "incident_points", "Marketing", ON),  # purpose not covered
        ("council", "incident_points", "ASB tasking", date(2025, 3, 31)),  # before the start
        ("council", "incident_points", "ASB tasking", date(2027, 4, 1)),  # after the end
    ],
)
def test_sharing_outside_an_agreement_is_refused(orgs, to, data_class, purpose, on):
    agreement(orgs)
    with pytest.raises(OutsideAgreement, match="No active information-sharing agreement"):
        services.isa_check(orgs["police"], orgs[to], data_class, purpose, on=on)


@pytest.mark.parametrize("status", ["draft", "suspended", "ended"])
def test_an_agreement_that_is_not_active_covers_nothing(orgs, status):
    agreement(orgs, status=status)
    with pytest.raises(OutsideAgreement):
        services.isa_check(orgs["police"], orgs["council"], "incident_points", "ASB tasking", on=ON)


def test_creating_and_changing_an_agreement_is_audited_with_before_and_after(orgs):
    made = agreement(orgs)
    created = AuditEvent.objects.order_by("-seq").first()
    assert (created.action, created.target_type, created.target_id) == (
        "collection",
        "core.sharingagreement",
        str(made.pk),
    )
    assert (
        created.after["parties"] == ["council", "police"] and created.after["end"] == "2027-03-31"
    )
    services.isa_update(agreement=made, status="suspended", review=date(2026, 2, 1), by="dpo")
    changed = AuditEvent.objects.order_by("-seq").first()
    assert (changed.action, changed.actor) == ("alteration", "dpo")
    assert changed.before == {"review": "2026-04-01", "status": "active"}
    assert changed.after == {"review": "2026-02-01", "status": "suspended"}
    assert SharingAgreement.objects.get(pk=made.pk).status == "suspended"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"data_classes": ["gossip"]}, "data_classes: 'gossip' is not one of"),
        ({"legal_bases": []}, "legal_bases: give at least one of"),
        ({"review": date(2025, 1, 1)}, "review: the review date is before the start date"),
        ({"purposes": [" "]}, "purposes: give at least one purpose"),
        ({"status": "maybe"}, "status: 'maybe' is not one of"),
    ],
)
def test_a_bad_agreement_is_refused_with_the_field_named(orgs, overrides, message):
    with pytest.raises(ImportRejected, match=message):
        agreement(orgs, **overrides)
    assert not SharingAgreement.objects.exists()


def test_agreements_due_for_review_within_thirty_days(orgs):
    due = agreement(orgs, reference="due", review=date(2026, 2, 10))
    agreement(orgs, reference="later", review=date(2026, 6, 1))
    agreement(orgs, reference="ended", review=date(2026, 1, 1), status="ended")
    overdue = agreement(orgs, reference="overdue", review=date(2025, 12, 1))
    membership = services.membership_set(
        user=get_user_model().objects.create_user(username="manager", password="x" * 20),
        partnership=Partnership.objects.get(slug="test-csp"),
        organisation=orgs["council"],
        role=Role.PARTNERSHIP_MANAGER,
    )
    listed = list(selectors.agreements_due_for_review(membership, on=ON))
    assert listed == [overdue, due]


YAML = """\
reference: isa-cleveland-asb
title: ASB hotspot sharing
partnership: test-csp
parties: [police, council]
purposes: [ASB tasking]
data_classes: [incident_points]
legal_bases: [cda_1998_s115]
conditions: [uk_gdpr_6_1_e]
start: 2025-04-01
review: 2026-04-01
status: active
"""


def load(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("csp_load_agreement", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_an_agreement_loads_from_yaml_as_a_dry_run_then_for_real(orgs, tmp_path):
    path = tmp_path / "isa.yaml"
    path.write_text(YAML)
    assert "Checked (dry run)" in load(path)
    assert not SharingAgreement.objects.exists()
    assert "Created agreement isa-cleveland-asb" in load(path, "--commit")
    made = SharingAgreement.objects.get(reference="isa-cleveland-asb")
    assert sorted(made.parties.values_list("slug", flat=True)) == ["council", "police"]
    path.write_text(YAML.replace("review: 2026-04-01", "review: 2026-10-01"))
    assert "Updated agreement" in load(path, "--commit")
    assert SharingAgreement.objects.get(pk=made.pk).review == date(2026, 10, 1)
    assert AuditEvent.objects.order_by("-seq").first().actor.startswith("csp load-agreement")


@pytest.mark.parametrize(
    "text, message",
    [
        (YAML.replace("parties: [police, council]", "parties: [police, nobody]"),
         "parties: no organisation 'nobody'"),
        (YAML.replace("start: 2025-04-01\n", ""), "start: missing"),
        (YAML.replace("data_classes: [incident_points]", "data_classes: [x]"),
         "data_classes: 'x' is not one of"),
        ("a: &x [1]\nb: *x\n", "YAML aliases are not accepted"),
        ("- just a list\n", "expected a mapping of fields"),
    ],
)  # fmt: skip
def test_a_bad_yaml_agreement_names_the_file_and_field(orgs, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CommandError, match=message) as caught:
        load(path, "--commit")
    assert str(path) in str(caught.value)
    assert not SharingAgreement.objects.exists()
