"""The sweep's registry (SECURITY.md G1-G3, G16-G17): every URL of the site, classified, with
how to build its arguments for a planted record, and the restricted fixtures (canaries).

A new module joins the sweep by declaration, not by new sweep code:

1. every URL name it adds goes in :data:`ROUTES` with its kind (``PUBLIC``, ``SIGNED_IN``,
   ``OBJECT`` for everything scoped to a partnership or a record, ``ADMIN``) and, when the
   URL takes more than ``partnership``, a function that builds the other arguments from the
   planted records (``Route(OBJECT, kwargs=lambda p: {"plan_id": p["plan"].uuid})``);
2. a planter function in :data:`PLANTERS` creates its restricted records in the victim
   partnership with :func:`canary` strings in every restricted field (and :data:`XSS` in
   every free-text field), and stores what the routes need in ``planted``.

``test_sweep.py`` fails for any URL of the resolver that is not in :data:`ROUTES` (or under
a namespace of :data:`NAMESPACES`), then requests every one of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from csp_platform.core import audit, services
from csp_platform.core.models import (
    AuditAction,
    Grant,
    Membership,
    Organisation,
    Partnership,
    Role,
)
from csp_platform.core.permissions import Perm, role_allows
from csp_platform.incidents.models import Place

VICTIM = "middlesbrough"  # the partnership whose restricted records are planted
MIDDLEHAVEN = "E05001497"  # one of its wards
# A stored-XSS canary, planted in every free-text field: it must never appear unescaped.
XSS = '"><script>x_canary()</script><img src=x onerror=x_canary()>'


class Kind(StrEnum):
    PUBLIC = "public"  # open without signing in
    SIGNED_IN = "signed-in"  # any signed-in user
    OBJECT = "object-scoped"  # a partnership's page or one of its records: @requires(Perm)
    ADMIN = "admin"  # the admin site: superusers only


@dataclass
class Planted:
    """What the planters made: named objects and every canary string."""

    objects: dict[str, Any] = field(default_factory=dict)
    # canary -> the permissions (of the victim partnership) that entitle a role to see it
    canaries: dict[str, frozenset[Perm]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.objects[name]

    def canary(self, what: str, *seen_with: Perm) -> str:
        """A unique string to plant; only the victim's roles with one of ``seen_with`` may
        ever get it back (none given: nobody, on any page)."""
        value = f"CANARY{what.upper()}{secrets.token_hex(4).upper()}"
        self.canaries[value] = frozenset(seen_with)
        return value

    def not_for(self, role: str | None) -> set[str]:
        """The canaries a victim's member of ``role`` (None: anyone else) must never see."""
        return {
            c for c, perms in self.canaries.items()
            if role is None or not any(role_allows(role, p) for p in perms)
        }  # fmt: skip


@dataclass(frozen=True)
class Route:
    kind: Kind
    kwargs: Callable[[Planted], dict[str, Any]] = lambda planted: {}
    query: str = ""


PERIODS = "from=2019-01&to=2019-02&baseline_from=2018-11&baseline_to=2018-12"

ROUTES: dict[str, Route] = {
    "core:home": Route(Kind.SIGNED_IN),
    "core:sign_in": Route(Kind.PUBLIC),
    "core:second_factor": Route(Kind.SIGNED_IN),
    "core:sign_out": Route(Kind.SIGNED_IN),
    "core:second_factor_enrol": Route(Kind.SIGNED_IN),
    "core:password_change": Route(Kind.SIGNED_IN),
    "core:set_password": Route(
        Kind.PUBLIC, kwargs=lambda p: {"uidb64": p["invited_uid"], "token": "not-a-token"}
    ),
    "core:audit_search": Route(Kind.OBJECT, query="action=consultation"),
    "core:audit_seen": Route(
        Kind.OBJECT, kwargs=lambda p: {"target_type": "area", "target_id": MIDDLEHAVEN}
    ),
    "core:agreements": Route(Kind.OBJECT),
    "hub:hub": Route(Kind.OBJECT),
    "hub:map_data": Route(Kind.OBJECT),
    "hub:trend_data": Route(Kind.OBJECT),
    "hub:points_data": Route(Kind.OBJECT, query="from=2019-02&to=2019-02"),
    "hub:hotspots_data": Route(Kind.OBJECT, query="from=2019-02&to=2019-02"),
    "hub:export_wards": Route(Kind.OBJECT),
    "hub:export_trend": Route(Kind.OBJECT),
    "hub:export_categories": Route(Kind.OBJECT),
    "hub:export_points": Route(Kind.OBJECT, query="from=2019-02&to=2019-02"),
    "hub:wards": Route(Kind.OBJECT),
    "hub:ward": Route(Kind.OBJECT, kwargs=lambda p: {"code": MIDDLEHAVEN}, query=PERIODS),
    "hub:sia": Route(Kind.OBJECT, query=PERIODS),
    "hub:export_sia": Route(Kind.OBJECT, query=PERIODS),
    "hub:forecast": Route(Kind.OBJECT),
    "incidents:data": Route(Kind.OBJECT),
    "incidents:upload": Route(Kind.OBJECT),
    "members:list": Route(Kind.OBJECT),
    "members:change": Route(Kind.OBJECT, kwargs=lambda p: {"member_id": p["member"].pk}),
    "members:remove": Route(Kind.OBJECT, kwargs=lambda p: {"member_id": p["member"].pk}),
    # Delivery plans, the SMART check, indicators and the board report (plans app)
    "plans:plans": Route(Kind.OBJECT),
    "plans:smart": Route(Kind.OBJECT),
    "plans:plan": Route(Kind.OBJECT, kwargs=lambda p: {"plan": p["plan"].uuid}),
    "plans:export": Route(Kind.OBJECT, kwargs=lambda p: {"plan": p["plan"].uuid, "fmt": "xlsx"}),
    "plans:action_add": Route(Kind.OBJECT, kwargs=lambda p: {"plan": p["plan"].uuid}),
    "plans:action": Route(Kind.OBJECT, kwargs=lambda p: {"action": p["action"].uuid}),
    "plans:action_edit": Route(Kind.OBJECT, kwargs=lambda p: {"action": p["action"].uuid}),
    "plans:action_update": Route(Kind.OBJECT, kwargs=lambda p: {"action": p["action"].uuid}),
    "indicators:list": Route(Kind.OBJECT),
    "indicators:detail": Route(Kind.OBJECT, kwargs=lambda p: {"indicator": p["indicator"].uuid}),
    "indicators:enter_return": Route(
        Kind.OBJECT, kwargs=lambda p: {"indicator": p["indicator"].uuid}
    ),
    "indicators:board": Route(Kind.OBJECT),
    "indicators:board_docx": Route(Kind.OBJECT),
}
# Every URL under these namespaces has the kind given (the admin site's many model pages).
NAMESPACES: dict[str, Kind] = {"admin": Kind.ADMIN}


# ----------------------------------------------------------------------------------------
# Restricted fixtures: canaries in every restricted record and field of the victim


def plant_incident_locations(planted: Planted) -> None:
    """Location texts of the victim's published points (the point layer and its export)."""
    places = Place.objects.filter(district__code="E06000002", location_precision="snap")
    assert places.update(location_text=f"{planted.canary('loc', Perm.VIEW_POINTS)} {XSS}") > 0


# The audit search (auditors) and "who has seen this record" (the data's owners, auditors).
AUDIT_READERS = (Perm.VIEW_AUDIT, Perm.VIEW_ACCESS_LOG)


def plant_audit_rows(planted: Planted) -> None:
    analyst = Membership.objects.get(user__username="analyst", partnership__slug=VICTIM)
    audit.record(
        action=AuditAction.CONSULTATION,
        actor=analyst.user,
        membership=analyst,
        target=("area", MIDDLEHAVEN),
        purpose=f"{planted.canary('auditpurpose', *AUDIT_READERS)} {XSS}",
        detail={"note": planted.canary("auditdetail", *AUDIT_READERS)},
    )


def plant_agreement(planted: Planted) -> None:
    victim = Partnership.objects.get(slug=VICTIM)
    planted.objects["agreement"] = services.isa_create(
        reference=f"isa-{secrets.token_hex(3)}",
        title=f"{planted.canary('isatitle', Perm.VIEW_AGREEMENTS)} {XSS}",
        partnership=victim,
        parties=list(
            Organisation.objects.filter(slug__in=["cleveland-police", "middlesbrough-council"])
        ),
        purposes=[f"{planted.canary('isapurpose', Perm.VIEW_AGREEMENTS)} {XSS}"],
        data_classes=["incident_points", "personal"],
        legal_bases=["cda_1998_s115"],
        conditions=["uk_gdpr_6_1_e"],
        start=date(2025, 1, 1),
        review=timezone.localdate() + timedelta(days=10),
        status="active",
    )


def plant_member(planted: Planted) -> None:
    """A member of the victim with canary names (the Members pages), and an invited user
    (the set-password link's uid)."""
    user = get_user_model().objects.create_user(
        username=planted.canary("member", Perm.MANAGE_MEMBERS).lower(),
        password=secrets.token_urlsafe(20),
        first_name=f"{planted.canary('first', Perm.MANAGE_MEMBERS)} {XSS}"[:150],
        last_name=planted.canary("last", Perm.MANAGE_MEMBERS),
        email=f"{planted.canary('mail', Perm.MANAGE_MEMBERS).lower()}@example.org",
    )
    planted.objects["member"] = Membership.objects.create(
        user=user,
        partnership=Partnership.objects.get(slug=VICTIM),
        organisation=Organisation.objects.get(slug="middlesbrough-council"),
        role=Role.COUNCILLOR,
    )
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    planted.objects["invited_uid"] = urlsafe_base64_encode(force_bytes(user.pk))


def plant_panel_and_expired_grants(planted: Planted) -> None:
    """A MARAC panel of the victim with a canary name, and a user of another partnership
    whose grants of the victim's records have expired or been revoked."""
    admin = Membership.objects.get(user__username="administrator", partnership__slug=VICTIM)
    panel = services.panel_create(
        by=admin, name=f"{planted.canary('panel')} {XSS}", kind="marac", members=[admin.user]
    )
    planted.objects["panel"] = panel
    expired = get_user_model().objects.create_user(
        username="expired-grantee", password=secrets.token_urlsafe(20)
    )
    police = Organisation.objects.get(slug="cleveland-police")
    Membership.objects.create(
        user=expired,
        partnership=Partnership.objects.get(slug="hartlepool"),
        organisation=police,
        role=Role.ADMINISTRATOR,
    )
    agreement = planted["agreement"]
    past = timezone.now() - timedelta(days=1)
    for resource, public_id in [("panel", str(panel.uuid)), ("incident_points", VICTIM)]:
        Grant.objects.create(
            target_type=resource, target_id=public_id, owner=police, user=expired,
            agreement=agreement, data_class="personal", purpose=planted.canary("grant"),
            expires_at=past,
        )  # fmt: skip
        Grant.objects.create(
            target_type=resource, target_id=public_id, owner=police, organisation=police,
            agreement=agreement, data_class="personal", purpose="revoked",
            expires_at=timezone.now() + timedelta(days=1), revoked_at=past,
        )  # fmt: skip
    planted.objects["expired_user"] = expired


def plant_plan(planted: Planted) -> None:
    """A delivery plan of the victim with an action, its quarterly update and an indicator,
    canaries in their free text: every member of the victim may read plans (view_plan)."""
    from csp_platform.plans import services as plans
    from csp_platform.plans.models import Indicator, Objective, Plan

    victim = Partnership.objects.get(slug=VICTIM)
    plan = Plan.objects.create(
        partnership=victim, title=f"{planted.canary('plantitle', Perm.VIEW_PLAN)} {XSS}"
    )
    objective = Objective.objects.create(
        plan=plan, text=f"{planted.canary('objective', Perm.VIEW_PLAN)} {XSS}"
    )
    action = plans.action_create(
        plan=plan,
        by="sweep",
        objective=objective,
        text=f"{planted.canary('action', Perm.VIEW_PLAN)} {XSS}",
        lead_organisations=[Organisation.objects.get(slug="cleveland-fire-brigade")],
    )
    plans.quarterly_update_add(
        action=action,
        by="sweep",
        membership=None,
        fiscal_year=2024,
        quarter=1,
        commentary=f"{planted.canary('update', Perm.VIEW_PLAN)} {XSS}",
        rag="amber",
    )
    planted.objects["plan"], planted.objects["action"] = plan, action
    planted.objects["indicator"] = Indicator.objects.create(
        partnership=victim,
        name=f"{planted.canary('indicator', Perm.VIEW_PLAN)} {XSS}",
        kind="manual",
        source="manual",
        owner=Organisation.objects.get(slug="middlesbrough-council"),
    )


PLANTERS: list[Callable[[Planted], None]] = [
    plant_incident_locations,
    plant_audit_rows,
    plant_agreement,
    plant_member,
    plant_panel_and_expired_grants,
    plant_plan,
]
