"""The policy (core/policy.py): roles, grants under agreements, panels, expiry and
field-level rules, proved on a test-only resource; the decision against an independent
oracle over random role and grant combinations (SECURITY.md G4); grants and revocations
audited and effective on the next request (G5, G6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from csp_platform.core import policy, selectors, services
from csp_platform.core.errors import ImportRejected, NotPermitted
from csp_platform.core.models import (
    AuditAction,
    AuditEvent,
    Grant,
    Membership,
    Organisation,
    Panel,
    Partnership,
    Role,
)
from csp_platform.core.policy import Decision, FieldRule, GrantFact, Policy, Record, Subject
from csp_platform.core.services import OutsideAgreement

# A test-only resource: case records of a partnership, seen by analysts and administrators,
# shared by administrators; MARAC risk notes for analysts and MARAC panel members only,
# health detail for HRAP panel members only. Its records are Panel rows (a real model with
# a partnership and a random public id), so the queryset filter is proved on a real table.
TEST_RESOURCE = policy.register(
    Policy(
        resource="test_case",
        data_class="personal",
        actions={
            "view": frozenset({Role.ANALYST, Role.ADMINISTRATOR}),
            "share": frozenset({Role.ADMINISTRATOR}),
            "edit": frozenset({Role.ADMINISTRATOR}),
        },
        grant_actions=frozenset({"view"}),
        fields={
            "risk_notes": FieldRule(roles=frozenset({Role.ANALYST}), panel_kinds=frozenset({"marac"})),
            "health": FieldRule(panel_kinds=frozenset({"hrap"})),
        },
    )
)

# ----------------------------------------------------------------------------------------
# The oracle: written from the declaration above by hand, not from core/policy.py

ORACLE_ROLES = {
    "view": {"analyst", "administrator"},
    "share": {"administrator"},
    "edit": {"administrator"},
}
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def oracle(memberships, panels, user_id, action, record_partnership, grants):  # type: ignore[no-untyped-def]
    role = None
    for partnership, _org, r in memberships:
        if partnership == record_partnership:
            role = r
    if role in ORACLE_ROLES[action]:
        return "allow"
    if action == "view":
        my_orgs = {org for _p, org, _r in memberships}
        my_panels = {panel for panel, _p, _k in panels}
        for kind, who, expires_in_h, revoked in grants:
            live = expires_in_h > 0 and not revoked
            mine = (
                (kind == "user" and who == user_id)
                or (kind == "org" and who in my_orgs)
                or (kind == "panel" and who in my_panels)
            )
            if live and mine:
                return "allow"
    return "403" if role is not None else "404"


def oracle_fields(memberships, panels, record_partnership):  # type: ignore[no-untyped-def]
    role = next((r for p, _o, r in memberships if p == record_partnership), None)
    kinds = {k for _panel, p, k in panels if p == record_partnership}
    shown = set()
    if role == "analyst" or "marac" in kinds:
        shown.add("risk_notes")
    if "hrap" in kinds:
        shown.add("health")
    return shown


memberships_st = st.lists(
    st.tuples(st.sampled_from([1, 2]), st.sampled_from([10, 11, 12]), st.sampled_from(Role.values)),
    max_size=2,
    unique_by=lambda m: m[0],
)
panels_st = st.lists(
    st.tuples(
        st.sampled_from([100, 101, 102]),
        st.sampled_from([1, 2]),
        st.sampled_from(Panel.Kind.values),
    ),
    max_size=3,
    unique_by=lambda p: p[0],
)
grants_st = st.lists(
    st.one_of(
        st.tuples(st.just("user"), st.sampled_from([7, 8]), st.integers(-48, 48), st.booleans()),
        st.tuples(st.just("org"), st.sampled_from([10, 11, 12]), st.integers(-48, 48), st.booleans()),
        st.tuples(
            st.just("panel"), st.sampled_from([100, 101, 102]), st.integers(-48, 48), st.booleans()
        ),
    ),
    max_size=4,
)


def _facts(grants):  # type: ignore[no-untyped-def]
    made = []
    for kind, who, expires_in_h, revoked in grants:
        # expiry at exactly NOW is expired (the oracle: hours > 0 only)
        made.append(
            GrantFact(
                organisation_id=who if kind == "org" else None,
                panel_id=who if kind == "panel" else None,
                user_id=who if kind == "user" else None,
                expires_at=NOW + timedelta(hours=expires_in_h),
                revoked_at=NOW - timedelta(hours=1) if revoked else None,
            )
        )
    return made


@settings(max_examples=400, deadline=None)
@given(
    memberships=memberships_st,
    panels=panels_st,
    grants=grants_st,
    action=st.sampled_from(["view", "share", "edit"]),
    record_partnership=st.sampled_from([1, 2]),
)
def test_the_decision_equals_the_oracle_over_random_roles_and_grants(
    memberships, panels, grants, action, record_partnership
):
    subject = Subject(
        user_id=7,
        roles={p: r for p, _o, r in memberships},
        organisations={p: o for p, o, _r in memberships},
        panels={pk: (p, k) for pk, p, k in panels},
    )
    record = Record(public_id="r", partnership_id=record_partnership)
    got = policy.decide(subject, TEST_RESOURCE, action, record, _facts(grants), now=NOW)
    answer = {Decision.ALLOW: "allow", Decision.FORBIDDEN: "403", Decision.HIDDEN: "404"}[got]
    assert answer == oracle(memberships, panels, 7, action, record_partnership, grants)
    shown = policy.fields_visible(subject, TEST_RESOURCE, record)
    assert shown == oracle_fields(memberships, panels, record_partnership)
    row = {"name": "x", "risk_notes": "MARAC-CANARY", "health": "HEALTH-CANARY"}
    stripped = policy.strip(row, subject, TEST_RESOURCE, record)
    assert set(stripped) == {"name"} | oracle_fields(memberships, panels, record_partnership)


def test_a_form_loses_the_fields_the_subject_may_not_write():
    class CaseForm(forms.Form):
        name = forms.CharField()
        risk_notes = forms.CharField(required=False)
        health = forms.CharField(required=False)

    officer = Subject(user_id=1, roles={1: Role.PARTNER_OFFICER}, organisations={1: 10})
    record = Record(public_id="r", partnership_id=1)
    form = policy.restrict_form(
        CaseForm({"name": "n", "risk_notes": "written", "health": "written"}),
        officer,
        TEST_RESOURCE,
        record,
    )
    assert form.is_valid() and form.cleaned_data == {"name": "n"}  # the posted values ignored
    analyst = Subject(user_id=2, roles={1: Role.ANALYST}, organisations={1: 10})
    form = policy.restrict_form(CaseForm(), analyst, TEST_RESOURCE, record)
    assert set(form.fields) == {"name", "risk_notes"}


def test_a_declaration_with_an_unknown_role_or_panel_kind_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        Policy(resource="bad", data_class="personal", actions={"view": frozenset({"janitor"})})
    with pytest.raises(ImproperlyConfigured):
        Policy(
            resource="bad",
            data_class="personal",
            actions={},
            fields={"x": FieldRule(panel_kinds=frozenset({"book-club"}))},
        )


# ----------------------------------------------------------------------------------------
# On the database: grants under agreements, panels, expiry, revocation, roles changed


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    police = Organisation.objects.create(slug="t-police", name="Test Police")
    council = Organisation.objects.create(slug="t-council", name="Test Council")
    health = Organisation.objects.create(slug="t-health", name="Test Health")
    a = Partnership.objects.create(slug="t-a", name="Test A")
    b = Partnership.objects.create(slug="t-b", name="Test B")
    a.organisations.add(police, council)
    b.organisations.add(health)
    users = {}
    for name, partnership, org, role in [
        ("admin_a", a, police, Role.ADMINISTRATOR),
        ("analyst_a", a, police, Role.ANALYST),
        ("officer_a", a, council, Role.PARTNER_OFFICER),
        ("nurse_b", b, health, Role.PARTNER_OFFICER),
        ("analyst_b", b, health, Role.ANALYST),
    ]:
        user = get_user_model().objects.create_user(username=name, password="x" * 20)
        Membership.objects.create(user=user, partnership=partnership, organisation=org, role=role)
        users[name] = user
    users["loner"] = get_user_model().objects.create_user(username="loner", password="x" * 20)
    services.isa_create(
        reference="t-isa",
        title="Police and health: case sharing",
        partnership=a,
        parties=[police, health],
        purposes=["Safeguarding"],
        data_classes=["personal"],
        legal_bases=["cda_1998_s115"],
        conditions=["uk_gdpr_6_1_e"],
        start=date(2025, 1, 1),
        review=date(2030, 1, 1),
        status="active",
    )
    record = Panel.objects.create(partnership=a, name="Case CANARY-7", kind="psg")
    return {"a": a, "b": b, "police": police, "council": council, "health": health,
            "record": record, **users}  # fmt: skip


def admin_of(world):  # type: ignore[no-untyped-def]
    return Membership.objects.get(user=world["admin_a"])


def as_record(panel: Panel) -> Record:
    return policy.record_of(TEST_RESOURCE, panel)


def get(user, public_id):  # type: ignore[no-untyped-def]
    return policy.get_for(user, "test_case", Panel.objects.all(), public_id)


def visible(user):  # type: ignore[no-untyped-def]
    return set(policy.visible(user, "test_case", Panel.objects.all()))


def test_outsiders_get_404_insiders_without_the_right_403_and_ids_are_random(world):
    record = world["record"]
    assert get(world["analyst_a"], record.uuid) == record
    with pytest.raises(PermissionDenied):
        get(world["officer_a"], record.uuid)
    for outsider in ("nurse_b", "analyst_b", "loner"):
        with pytest.raises(Http404):
            get(world[outsider], record.uuid)
        assert record not in visible(world[outsider])
    with pytest.raises(Http404):  # a sequential id is never an identifier
        get(world["analyst_a"], record.pk)
    assert record in visible(world["analyst_a"]) and record not in visible(world["officer_a"])


def test_a_grant_outside_an_active_agreement_is_refused_and_nothing_is_written(world):
    before = (Grant.objects.count(), AuditEvent.objects.count())
    later = timezone.now() + timedelta(days=7)
    with pytest.raises(OutsideAgreement):  # the council is not a party to t-isa
        services.grant_create(
            by=admin_of(world), resource="test_case", record=as_record(world["record"]),
            purpose="Safeguarding", expires_at=later, organisation=world["council"],
        )  # fmt: skip
    with pytest.raises(OutsideAgreement):  # a purpose the agreement does not name
        services.grant_create(
            by=admin_of(world), resource="test_case", record=as_record(world["record"]),
            purpose="Marketing", expires_at=later, organisation=world["health"],
        )  # fmt: skip
    with pytest.raises(ImportRejected):  # no expiry in the past
        services.grant_create(
            by=admin_of(world), resource="test_case", record=as_record(world["record"]),
            purpose="Safeguarding", expires_at=timezone.now(), organisation=world["health"],
        )  # fmt: skip
    with pytest.raises(NotPermitted):  # an analyst may view, not share
        services.grant_create(
            by=Membership.objects.get(user=world["analyst_a"]), resource="test_case",
            record=as_record(world["record"]), purpose="Safeguarding", expires_at=later,
            organisation=world["health"],
        )  # fmt: skip
    assert (Grant.objects.count(), AuditEvent.objects.count()) == before


def test_a_grant_to_an_organisation_opens_the_record_until_revoked_audited_both_ways(world):
    record = world["record"]
    with pytest.raises(Http404):
        get(world["nurse_b"], record.uuid)
    grant = services.grant_create(
        by=admin_of(world), resource="test_case", record=as_record(record),
        purpose="Safeguarding", expires_at=timezone.now() + timedelta(days=7),
        organisation=world["health"],
    )  # fmt: skip
    assert grant.agreement.reference == "t-isa"
    # the next request: both of the health organisation's users see it, in the query too
    assert get(world["nurse_b"], record.uuid) == record
    assert record in visible(world["analyst_b"])
    disclosed = AuditEvent.objects.get(action=AuditAction.DISCLOSURE, target_id=str(record.uuid))
    assert disclosed.recipient == "organisation Test Health"
    assert disclosed.detail["agreements"] == ["t-isa"] and disclosed.purpose == "Safeguarding"
    services.grant_revoke(grant=grant, by=admin_of(world))
    with pytest.raises(Http404):  # effective at once: no cached permission
        get(world["nurse_b"], record.uuid)
    assert record not in visible(world["analyst_b"])
    altered = AuditEvent.objects.get(action=AuditAction.ALTERATION, target_id=str(record.uuid))
    assert altered.before["revoked_at"] is None and altered.after["revoked_at"]


def test_a_grant_to_a_panel_opens_it_to_the_panels_members_only_and_it_expires(world):
    record = world["record"]
    marac = services.panel_create(
        by=admin_of(world), name="MARAC", kind="marac", members=[world["nurse_b"]]
    )
    grant = services.grant_create(
        by=admin_of(world), resource="test_case", record=as_record(record),
        purpose="Safeguarding", expires_at=timezone.now() + timedelta(hours=1), panel=marac,
    )  # fmt: skip
    assert get(world["nurse_b"], record.uuid) == record
    with pytest.raises(Http404):  # the same organisation, not on the panel
        get(world["analyst_b"], record.uuid)
    # the panel member also sees the MARAC field of the partnership's records
    subject = policy.subject_for(world["nurse_b"])
    assert policy.fields_visible(subject, TEST_RESOURCE, as_record(record)) == {"risk_notes"}
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Http404):
        get(world["nurse_b"], record.uuid)
    assert record not in visible(world["nurse_b"])


def test_a_grant_to_a_named_user_is_theirs_alone(world):
    record = world["record"]
    services.grant_create(
        by=admin_of(world), resource="test_case", record=as_record(record),
        purpose="Safeguarding", expires_at=timezone.now() + timedelta(days=1),
        user=world["nurse_b"],
    )  # fmt: skip
    assert get(world["nurse_b"], record.uuid) == record
    assert record not in visible(world["analyst_b"])
    with pytest.raises(Http404):  # a grant gives view, never edit (and they are no insider)
        policy.get_for(world["nurse_b"], "test_case", Panel.objects.all(), record.uuid, "edit")


def test_a_changed_role_takes_effect_on_the_next_decision(world):
    record = world["record"]
    assert get(world["analyst_a"], record.uuid) == record
    Membership.objects.filter(user=world["analyst_a"]).update(role=Role.COUNCILLOR)
    with pytest.raises(PermissionDenied):
        get(world["analyst_a"], record.uuid)
    Membership.objects.filter(user=world["analyst_a"]).delete()
    with pytest.raises(Http404):
        get(world["analyst_a"], record.uuid)


def test_panels_are_listed_to_their_partnerships_managers_and_their_members(world):
    marac = services.panel_create(
        by=admin_of(world), name="MARAC", kind="marac", members=[world["nurse_b"]]
    )
    assert marac in selectors.panel_list_visible_to(world["admin_a"])
    assert marac in selectors.panel_list_visible_to(world["nurse_b"])
    assert marac not in selectors.panel_list_visible_to(world["analyst_b"])
    assert selectors.panel_get_for(world["nurse_b"], str(marac.uuid)) == marac
    with pytest.raises(PermissionDenied):
        selectors.panel_get_for(world["officer_a"], str(marac.uuid))
    with pytest.raises(Http404):
        selectors.panel_get_for(world["analyst_b"], str(marac.uuid))
    with pytest.raises(Http404):
        selectors.panel_get_for(world["admin_a"], str(marac.pk))
    with pytest.raises(NotPermitted):
        services.panel_create(by=Membership.objects.get(user=world["analyst_a"]), name="x", kind="psg")
