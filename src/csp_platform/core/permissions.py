"""Who may do what: roles x permissions, and the decorators that every view declares.

The table below is the one source of truth; docs/access-control.md is its human-readable
copy (a test holds the two equal). Access is part of fetching: a partnership-scoped view is
reached only through :func:`requires`, which loads the user's membership of the partnership
in the URL (an outsider gets 404, an insider without the permission 403) and hands it to the
view as ``request.membership``. Every URL's view is marked with ``access_rule`` (a
:class:`Perm`, ``"signed-in"`` or ``"public"``), and a convention test checks that none is
left unmarked. Deny by default: ``LoginRequiredMiddleware`` refuses anonymous requests to
any view not marked :func:`public`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from csp_platform.core.models import Membership, Role
from csp_platform.core.security_log import event

View = TypeVar("View", bound=Callable[..., HttpResponse])


class Perm(StrEnum):
    """An action on a partnership's figures."""

    VIEW_AGGREGATES = "view_aggregates"  # counts and rates: hub, ward profile, SIA
    VIEW_HOTSPOTS = "view_hotspots"  # the grid hotspot layer
    VIEW_POINTS = "view_points"  # incidents at published (police.uk snap) points, repeat places
    VIEW_FORECAST = "view_forecast"  # next month's hotspots with their backtest
    EXPORT_AGGREGATES = "export_aggregates"  # CSV of counts (recorded)
    EXPORT_POINTS = "export_points"  # CSV of published points (recorded)
    VIEW_DATA = "view_data"  # the data page: sources, months, quality report
    IMPORT_DATA = "import_data"  # upload a file through the import service
    VIEW_AUDIT = "view_audit"  # the audit search (every audited event of the partnership)
    VIEW_ACCESS_LOG = "view_access_log"  # "who has seen this record", for records one owns
    VIEW_AGREEMENTS = "view_agreements"  # information-sharing agreements, those due for review
    MANAGE_MEMBERS = "manage_members"  # the Members page: add, invite, change, remove
    VIEW_PLAN = "view_plan"  # the delivery plans, their actions, updates and edit history
    EDIT_PLAN = "edit_plan"  # add and edit actions, import and export plans
    UPDATE_ACTION = "update_action"  # enter a quarterly update (plans/policy.py: whose actions)
    ENTER_RETURN = "enter_return"  # an indicator's monthly return (plans/policy.py: whose)


_ALL = frozenset(Perm)
_AUDIT = frozenset({Perm.VIEW_AUDIT, Perm.VIEW_AGREEMENTS})
ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ANALYST: _ALL - {Perm.IMPORT_DATA, Perm.MANAGE_MEMBERS, Perm.EDIT_PLAN} - _AUDIT,
    Role.PARTNER_OFFICER: frozenset(
        {
            Perm.VIEW_AGGREGATES,
            Perm.VIEW_HOTSPOTS,
            Perm.VIEW_POINTS,
            Perm.VIEW_FORECAST,
            Perm.VIEW_PLAN,
            Perm.UPDATE_ACTION,
            Perm.ENTER_RETURN,
        }
    ),
    Role.PARTNERSHIP_MANAGER: frozenset(
        {
            Perm.VIEW_AGGREGATES,
            Perm.VIEW_HOTSPOTS,
            Perm.VIEW_FORECAST,
            Perm.EXPORT_AGGREGATES,
            Perm.VIEW_AGREEMENTS,
            Perm.VIEW_PLAN,
            Perm.EDIT_PLAN,
            Perm.UPDATE_ACTION,
            Perm.ENTER_RETURN,
        }
    ),
    # Councillors: aggregates only (counts and rates by ward), which they may take away,
    # and the plans (they scrutinise them; they do not edit them).
    Role.COUNCILLOR: frozenset({Perm.VIEW_AGGREGATES, Perm.EXPORT_AGGREGATES, Perm.VIEW_PLAN}),
    Role.DATA_MANAGER: frozenset(
        {
            Perm.VIEW_AGGREGATES,
            Perm.EXPORT_AGGREGATES,
            Perm.VIEW_DATA,
            Perm.IMPORT_DATA,
            Perm.VIEW_ACCESS_LOG,
            Perm.VIEW_PLAN,
            Perm.UPDATE_ACTION,
            Perm.ENTER_RETURN,
        }
    ),
    # Administrators do not search the audit log of their own actions: the auditor does.
    Role.ADMINISTRATOR: _ALL - {Perm.VIEW_AUDIT},
    # Auditors (e.g. the data protection officer): the audit log, agreements and aggregates.
    Role.AUDITOR: frozenset(
        {
            Perm.VIEW_AGGREGATES,
            Perm.VIEW_AUDIT,
            Perm.VIEW_ACCESS_LOG,
            Perm.VIEW_AGREEMENTS,
            Perm.VIEW_PLAN,
        }
    ),
}

PUBLIC = "public"
SIGNED_IN = "signed-in"


def role_allows(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(Role(role), frozenset())


def allowed(membership: Membership) -> frozenset[Perm]:
    """The permissions a membership carries (for templates: show only what can be used)."""
    return ROLE_PERMISSIONS.get(Role(membership.role), frozenset())


def requires(perm: Perm) -> Callable[[View], View]:
    """A partnership-scoped view (URL kwarg ``partnership``) that needs ``perm``.

    Anonymous -> sign-in page; not a member of the partnership -> 404 (its existence is not
    confirmed); a member whose role lacks ``perm`` -> 403, logged.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            from csp_platform.core import policy  # the policy reads this module's table

            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            try:
                membership = policy.member_of(request.user, kwargs["partnership"])
            except Http404:
                event(
                    "partnership refused (not a member)",
                    request,
                    level=logging.WARNING,
                    partnership=kwargs["partnership"],
                    perm=perm.value,
                )
                raise
            if not policy.membership_allows(membership, policy.PARTNERSHIP, perm.value):
                event(
                    "permission denied",
                    request,
                    level=logging.WARNING,
                    partnership=kwargs["partnership"],
                    role=membership.role,
                    perm=perm.value,
                )
                raise PermissionDenied
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        wrapped.access_rule = perm  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def signed_in(view: View) -> View:
    """Any signed-in user (the partnership chooser, sign-out)."""
    view.access_rule = SIGNED_IN  # type: ignore[attr-defined]
    return view


def second_factor_step(view: View) -> View:
    """A signed-in user's page that is open before the second factor is given: the second
    step of signing in, enrolment, sign-out (core.middleware.SecondFactorMiddleware)."""
    view.access_rule = SIGNED_IN  # type: ignore[attr-defined]
    view.before_second_factor = True  # type: ignore[attr-defined]
    return view


def public(view: View) -> View:
    """Visible without signing in (only the sign-in page)."""
    view = login_not_required(view)
    view.access_rule = PUBLIC  # type: ignore[attr-defined]
    return view
