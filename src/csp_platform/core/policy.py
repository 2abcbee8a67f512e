"""One place that decides who may do which action to which resource (docs/access-control.md).

A **subject** is a user with their memberships (partnership, organisation, role) and panel
memberships, read from the database on every decision: nothing is cached, so a changed
role, a removed membership or a revoked grant takes effect on the next request.

A **resource** is declared once, beside its model, as a :class:`Policy` registered in the
app's ``policy.py`` (found at start-up by Django's ``autodiscover_modules("policy")``):
which roles of the owning partnership may do each action, which actions a grant gives, which
fields only some roles or panels may see, and how its querysets are filtered. Views never
decide: the access-checked selectors call :func:`visible` (a filter in the query itself) and
:func:`get_for` (one record by its random public id), and ``permissions.requires`` calls
:func:`membership_for` for the partnership's own pages.

The decision (:func:`decide`) is a pure function of the subject, the record's owner and the
record's grants:

1. a member of the owning partnership whose role the policy lists for the action: allowed;
2. anyone an active grant covers (to their user, one of their organisations, or a panel
   they sit on; not revoked, not expired) for an action grants give: allowed;
3. any other member of the owning partnership: **403** (an insider without the right);
4. everyone else: **404** (an outsider learns nothing, not even that the record exists).

Grants are made only under an active information-sharing agreement
(``core.services.grant_create`` calls ``isa_check``) and each is audited.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from csp_platform.core.models import DataClass, Grant, Membership, Panel, Role

log = logging.getLogger("csp.security")
M = TypeVar("M", bound=Model)


class Decision(Enum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"  # 403: a member of the owning partnership without the right
    HIDDEN = "hidden"  # 404: an outsider


@dataclass(frozen=True)
class FieldRule:
    """A restricted field: shown only to members of the owning partnership whose role is in
    ``roles``, or who sit on one of its panels of a kind in ``panel_kinds``."""

    roles: frozenset[str] = frozenset()
    panel_kinds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    """The declaration of one kind of resource (see the module docstring)."""

    resource: str
    data_class: str
    actions: Mapping[str, frozenset[str]]  # action -> roles of the owning partnership
    grant_actions: frozenset[str] = frozenset({"view"})
    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    partnership_field: str = "partnership_id"  # in querysets: the owning partnership
    organisation_field: str | None = None  # in querysets: the owning organisation
    public_id_field: str = "uuid"  # the random public identifier, never a sequential id

    def __post_init__(self) -> None:
        if self.data_class not in DataClass.values:
            raise ImproperlyConfigured(f"{self.resource}: unknown data class {self.data_class!r}")
        for action, roles in self.actions.items():
            unknown = set(roles) - set(Role.values)
            if unknown:
                raise ImproperlyConfigured(f"{self.resource}.{action}: unknown roles {unknown}")
        for name, rule in self.fields.items():
            kinds = set(rule.panel_kinds) - set(Panel.Kind.values)
            if kinds:
                raise ImproperlyConfigured(f"{self.resource}.{name}: unknown panel kinds {kinds}")

    @property
    def restricted_fields(self) -> frozenset[str]:
        return frozenset(self.fields)


REGISTRY: dict[str, Policy] = {}


def register(policy: Policy) -> Policy:
    """Declare a resource (call it in the app's ``policy.py``); a name may be declared once."""
    existing = REGISTRY.get(policy.resource)
    if existing is not None and existing != policy:
        raise ImproperlyConfigured(f"policy {policy.resource!r} is declared twice")
    REGISTRY[policy.resource] = policy
    return policy


def policy_for(resource: str) -> Policy:
    try:
        return REGISTRY[resource]
    except KeyError as exc:
        raise ImproperlyConfigured(f"no policy declared for {resource!r}") from exc


# ----------------------------------------------------------------------------------------
# The decision: pure functions over plain facts (tested against an independent oracle)


@dataclass(frozen=True)
class Subject:
    """Who asks: read fresh from the database by :func:`subject_for`, never cached."""

    user_id: int | None
    roles: Mapping[int, str] = field(default_factory=dict)  # partnership id -> role
    organisations: Mapping[int, int] = field(default_factory=dict)  # partnership id -> org id
    panels: Mapping[int, tuple[int, str]] = field(default_factory=dict)  # panel -> (p, kind)


@dataclass(frozen=True)
class Record:
    """What the decision needs to know about one record: its public id and its owner."""

    public_id: str
    partnership_id: int
    organisation_id: int | None = None


@dataclass(frozen=True)
class GrantFact:
    organisation_id: int | None
    panel_id: int | None
    user_id: int | None
    expires_at: datetime
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    def covers(self, subject: Subject) -> bool:
        if self.user_id is not None:
            return self.user_id == subject.user_id
        if self.organisation_id is not None:
            return self.organisation_id in set(subject.organisations.values())
        return self.panel_id is not None and self.panel_id in subject.panels


def decide(
    subject: Subject,
    policy: Policy,
    action: str,
    record: Record,
    grants: Iterable[GrantFact] = (),
    *,
    now: datetime | None = None,
) -> Decision:
    role = subject.roles.get(record.partnership_id)
    if role is not None and role in policy.actions.get(action, frozenset()):
        return Decision.ALLOW
    if action in policy.grant_actions:
        now = now or timezone.now()
        if any(g.active(now) and g.covers(subject) for g in grants):
            return Decision.ALLOW
    return Decision.FORBIDDEN if role is not None else Decision.HIDDEN


def fields_visible(subject: Subject, policy: Policy, record: Record) -> frozenset[str]:
    """The restricted fields of ``record`` the subject may see (or write)."""
    role = subject.roles.get(record.partnership_id)
    kinds = {kind for p, kind in subject.panels.values() if p == record.partnership_id}
    return frozenset(
        name
        for name, rule in policy.fields.items()
        if (role is not None and role in rule.roles) or kinds & set(rule.panel_kinds)
    )


def fields_hidden(subject: Subject, policy: Policy, record: Record) -> frozenset[str]:
    return policy.restricted_fields - fields_visible(subject, policy, record)


def strip(
    values: Mapping[str, Any], subject: Subject, policy: Policy, record: Record
) -> dict[str, Any]:
    """``values`` (a row for a list, a detail, a JSON answer or an export) without the
    restricted fields the subject may not see: they are left out, not blanked, so a
    template or an export cannot show them by mistake."""
    hidden = fields_hidden(subject, policy, record)
    return {k: v for k, v in values.items() if k not in hidden}


def restrict_form(form: Any, subject: Subject, policy: Policy, record: Record) -> Any:
    """Remove the restricted fields the subject may not see from a Django form, so they are
    neither shown nor written (a posted value for them is ignored)."""
    for name in fields_hidden(subject, policy, record):
        form.fields.pop(name, None)
    return form


# ----------------------------------------------------------------------------------------
# The database side: subjects, grants, querysets


def subject_for(user: Any) -> Subject:
    """The user's memberships and panels, read now (an inactive user has none)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Subject(user_id=None)
    roles: dict[int, str] = {}
    organisations: dict[int, int] = {}
    for p, org, role in Membership.objects.filter(user_id=user.pk).values_list(
        "partnership_id", "organisation_id", "role"
    ):
        roles[p], organisations[p] = role, org
    panels = {
        pk: (p, kind)
        for pk, p, kind in Panel.objects.filter(members=user.pk).values_list(
            "pk", "partnership_id", "kind"
        )
    }
    return Subject(user_id=user.pk, roles=roles, organisations=organisations, panels=panels)


def grants_for(resource: str, public_ids: Iterable[str]) -> dict[str, list[GrantFact]]:
    found: dict[str, list[GrantFact]] = {}
    rows = Grant.objects.filter(target_type=resource, target_id__in=[str(i) for i in public_ids])
    for target, org, panel, user, expires, revoked in rows.values_list(
        "target_id", "organisation_id", "panel_id", "user_id", "expires_at", "revoked_at"
    ):
        found.setdefault(target, []).append(GrantFact(org, panel, user, expires, revoked))
    return found


def _granted_ids_q(subject: Subject, resource: str) -> Q:
    if subject.user_id is None:
        return Q(pk__in=[])
    return Q(target_type=resource, revoked_at__isnull=True, expires_at__gt=timezone.now()) & (
        Q(user_id=subject.user_id)
        | Q(organisation_id__in=set(subject.organisations.values()))
        | Q(panel_id__in=list(subject.panels))
    )


def visible(user: Any, resource: str, queryset: QuerySet[M], action: str = "view") -> QuerySet[M]:
    """``queryset`` filtered in the query itself to the records the user may ``action``:
    those of partnerships where their role allows it, and those actively granted to them."""
    policy = policy_for(resource)
    subject = subject_for(user)
    allowed = policy.actions.get(action, frozenset())
    partnerships = [p for p, role in subject.roles.items() if role in allowed]
    condition = Q(**{f"{policy.partnership_field}__in": partnerships})
    if action in policy.grant_actions:
        # Read as a list (the ids are few), so each is converted by the public id's own
        # field (a UUID is stored without hyphens on SQLite, as a uuid on PostgreSQL).
        granted = Grant.objects.filter(_granted_ids_q(subject, resource))
        ids = list(granted.values_list("target_id", flat=True).distinct())
        condition |= Q(**{f"{policy.public_id_field}__in": ids})
    return queryset.filter(condition)


def _path(obj: Any, path: str | None) -> Any:
    if path is None:
        return None
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


def record_of(policy: Policy, obj: Any) -> Record:
    """The owner facts of a model instance, read through the policy's declared fields."""
    return Record(
        public_id=str(_path(obj, policy.public_id_field)),
        partnership_id=_path(obj, policy.partnership_field),
        organisation_id=_path(obj, policy.organisation_field),
    )


def enforce(decision: Decision, *, resource: str, action: str, user: Any) -> None:
    """404 for an outsider, 403 for an insider without the right (both logged)."""
    if decision is Decision.ALLOW:
        return
    log.warning(
        '{"event": "policy refused", "resource": %s, "action": %s, "user": %s, "answer": %d}',
        f'"{resource}"',
        f'"{action}"',
        getattr(user, "pk", None) or "null",
        404 if decision is Decision.HIDDEN else 403,
    )
    if decision is Decision.HIDDEN:
        raise Http404
    raise PermissionDenied


def get_for(
    user: Any, resource: str, queryset: QuerySet[M], public_id: Any, action: str = "view"
) -> M:
    """One record by its public id, if the user may ``action`` it; else 404 or 403."""
    policy = policy_for(resource)
    try:
        obj = queryset.filter(**{policy.public_id_field: str(public_id)}).first()
    except (ValueError, TypeError, ValidationError) as exc:  # a malformed id (not a UUID)
        raise Http404 from exc
    if obj is None:
        raise Http404
    record = record_of(policy, obj)
    grants = grants_for(resource, [record.public_id]).get(record.public_id, [])
    enforce(
        decide(subject_for(user), policy, action, record, grants),
        resource=resource,
        action=action,
        user=user,
    )
    return obj


def uuid_or_404(value: Any) -> uuid.UUID:
    """A public identifier parsed as a UUID, or 404 (a sequential id is never accepted)."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Http404 from exc


def membership_allows(membership: Membership, resource: str, action: str) -> bool:
    """May this membership (already the user's own, loaded this request) ``action`` the
    partnership-owned ``resource``? (The partnership's own figures: no grants.)"""
    policy = policy_for(resource)
    return membership.role in policy.actions.get(action, frozenset())


def membership_require(membership: Membership, resource: str, action: str) -> None:
    """403 unless the membership may ``action`` the partnership-owned ``resource``."""
    if not membership_allows(membership, resource, action):
        enforce(Decision.FORBIDDEN, resource=resource, action=action, user=membership.user)


def member_of(user: Any, partnership_slug: str) -> Membership:
    """The user's membership of the partnership, read now, or 404 (outsiders learn
    nothing, not even that the partnership exists)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Http404
    membership = (
        Membership.objects.filter(user_id=user.pk, partnership__slug=partnership_slug)
        .select_related("partnership", "organisation", "user")
        .first()
    )
    if membership is None:
        raise Http404
    return membership


# ----------------------------------------------------------------------------------------
# Today's declarations in core: the partnership's pages (the Perm table) and its records

PARTNERSHIP = "partnership"
AUDIT_EVENT = "audit_event"
AGREEMENT = "agreement"
PANEL = "panel"


def roles_with(perm: str) -> frozenset[str]:
    from csp_platform.core.permissions import ROLE_PERMISSIONS

    return frozenset(role.value for role, perms in ROLE_PERMISSIONS.items() if perm in perms)


def _declare_core() -> None:
    from csp_platform.core.permissions import Perm

    register(
        Policy(
            resource=PARTNERSHIP,
            data_class=DataClass.INCIDENT_AGGREGATES,
            actions={perm.value: roles_with(perm) for perm in Perm},
            grant_actions=frozenset(),
            partnership_field="pk",
            public_id_field="slug",
        )
    )
    register(
        Policy(
            resource=AUDIT_EVENT,
            data_class=DataClass.PERSONAL,
            actions={"view": roles_with(Perm.VIEW_AUDIT)},
            grant_actions=frozenset(),
            public_id_field="seq",
        )
    )
    register(
        Policy(
            resource=AGREEMENT,
            data_class=DataClass.INCIDENT_AGGREGATES,
            actions={"view": roles_with(Perm.VIEW_AGREEMENTS)},
            grant_actions=frozenset(),
            public_id_field="reference",
        )
    )
    register(
        Policy(
            resource=PANEL,
            data_class=DataClass.PERSONAL,
            actions={
                "view": frozenset({Role.ADMINISTRATOR, Role.PARTNERSHIP_MANAGER}),
                "manage": frozenset({Role.ADMINISTRATOR}),
            },
            grant_actions=frozenset(),
        )
    )


_declare_core()
