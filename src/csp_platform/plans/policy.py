"""Who may change what in a partnership's plans (docs/plans.md, "Access").

The role table (``core/permissions.py``) says who may view plans (``view_plan``), edit them
(``edit_plan``: add and edit actions, import, export) and enter quarterly updates
(``update_action``). This module adds the one rule that depends on the record: an update to
an action may be entered by a partnership manager or an administrator for any action, and
by any other member with ``update_action`` only for an action their own organisation leads.
Services check it (``NotPermitted``) and views turn the refusal into 403.
"""

from __future__ import annotations

from csp_platform.core.models import Membership, Role
from csp_platform.core.permissions import Perm, role_allows
from csp_platform.plans.models import Action, Indicator

# Roles that may update and edit every action of their partnership.
MANAGING_ROLES = frozenset({Role.PARTNERSHIP_MANAGER, Role.ADMINISTRATOR})


def may_view_plans(membership: Membership) -> bool:
    return role_allows(membership.role, Perm.VIEW_PLAN)


def may_edit_plan(membership: Membership) -> bool:
    """Add and edit actions, import and export plans."""
    return role_allows(membership.role, Perm.EDIT_PLAN)


def may_update_action(membership: Membership, action: Action) -> bool:
    """Enter a quarterly update of ``action``."""
    if action.plan.partnership_id != membership.partnership_id:
        return False
    if not role_allows(membership.role, Perm.UPDATE_ACTION):
        return False
    if membership.role in MANAGING_ROLES:
        return True
    return action.lead_organisations.filter(pk=membership.organisation_id).exists()


def may_enter_return(membership: Membership, indicator: Indicator) -> bool:
    """Enter a month's return of ``indicator``: its owner organisation's members (with
    ``enter_return``) and the partnership's managers and administrators."""
    if indicator.partnership_id != membership.partnership_id:
        return False
    if not role_allows(membership.role, Perm.ENTER_RETURN):
        return False
    if membership.role in MANAGING_ROLES:
        return True
    return indicator.owner_id is not None and membership.organisation_id == indicator.owner_id
