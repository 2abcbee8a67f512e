"""Writes to a partnership's membership, by its administrators (the Members page).

Every change is refused unless it stays inside the administrator's own partnership and its
organisations, and every change is logged to ``csp.security`` as one JSON line (who, what,
before and after). An administrator cannot change or remove their own membership, so a
partnership always keeps the administrator who is acting.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from csp_platform.core.errors import NotPermitted
from csp_platform.core.member_selectors import user_by_username
from csp_platform.core.models import Membership, Organisation, Role

security_log = logging.getLogger("csp.security")


def _log(event: str, admin: Membership, **fields: Any) -> None:
    """One JSON line: a line feed in a user name cannot forge another entry."""
    record = {
        "event": event,
        "by": admin.user.get_username(),
        "partnership": admin.partnership.slug,
        **fields,
    }
    security_log.info(json.dumps(record, sort_keys=True))


def _check_organisation(admin: Membership, organisation: Organisation) -> None:
    if not admin.partnership.organisations.filter(pk=organisation.pk).exists():
        raise NotPermitted(f"{organisation.name} is not an organisation of this partnership")


def _state(m: Membership) -> dict[str, str]:
    return {"role": m.role, "organisation": m.organisation.slug}


@transaction.atomic
def member_add(
    *, admin: Membership, username: str, organisation: Organisation, role: Role
) -> Membership:
    """Give an existing user a role in the administrator's partnership."""
    _check_organisation(admin, organisation)
    user = user_by_username(username)
    if user is None:
        raise NotPermitted(f"There is no user called {username!r}: invite them instead")
    if Membership.objects.filter(user_id=user.pk, partnership=admin.partnership).exists():
        raise NotPermitted(f"{user.get_username()} is already a member of this partnership")
    member = Membership.objects.create(
        user_id=user.pk, partnership=admin.partnership, organisation=organisation, role=role
    )
    _log("member_added", admin, user=user.get_username(), after=_state(member))
    return member


@dataclass(frozen=True)
class Invitation:
    member: Membership
    set_password_path: str  # one-time: it stops working once the password is set


def set_password_path(user: AbstractBaseUser) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)  # type: ignore[arg-type]
    return reverse("core:set_password", args=[uid, token])


@transaction.atomic
def member_invite(
    *, admin: Membership, username: str, email: str, organisation: Organisation, role: Role
) -> Invitation:
    """Create a user without a password, make them a member, and return the one-time link
    with which they choose one (the administrator hands it over)."""
    _check_organisation(admin, organisation)
    if user_by_username(username) is not None:
        raise NotPermitted(f"A user called {username!r} exists already: add them instead")
    user = get_user_model().objects.create_user(username=username.strip(), email=email)
    user.set_unusable_password()
    user.save()
    member = Membership.objects.create(
        user=user, partnership=admin.partnership, organisation=organisation, role=role
    )
    _log("member_invited", admin, user=user.get_username(), after=_state(member))
    return Invitation(member, set_password_path(user))


@transaction.atomic
def member_change(
    *, admin: Membership, member: Membership, organisation: Organisation, role: Role
) -> Membership:
    if member.partnership_id != admin.partnership_id:
        raise NotPermitted("That member is not in this partnership")
    if member.pk == admin.pk:
        raise NotPermitted("You cannot change your own role: ask another administrator")
    _check_organisation(admin, organisation)
    before = _state(member)
    member.organisation, member.role = organisation, role
    member.save(update_fields=["organisation", "role"])
    _log(
        "member_changed",
        admin,
        user=member.user.get_username(),
        before=before,
        after=_state(member),
    )
    return member


@transaction.atomic
def member_remove(*, admin: Membership, member: Membership) -> None:
    if member.partnership_id != admin.partnership_id:
        raise NotPermitted("That member is not in this partnership")
    if member.pk == admin.pk:
        raise NotPermitted("You cannot remove yourself: ask another administrator")
    before = _state(member)
    username = member.user.get_username()
    member.delete()
    _log("member_removed", admin, user=username, before=before)


def password_set_by_link(user: AbstractBaseUser) -> None:
    security_log.info(json.dumps({"event": "password_set_by_link", "user": user.get_username()}))
