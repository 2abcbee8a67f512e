"""Reads of a partnership's members, for its administrators; access is part of fetching.

A member of another partnership is never found here: ``member_get_for`` looks only among
the memberships of the administrator's own partnership, so any other id is a 404.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from csp_platform.core.models import Membership, Organisation, Partnership


def member_list_for(partnership: Partnership) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(partnership=partnership)
        .select_related("user", "organisation")
        .order_by("user__username")
    )


def member_get_for(admin: Membership, member_id: int) -> Membership:
    """A membership of the administrator's own partnership, or 404."""
    return get_object_or_404(member_list_for(admin.partnership), pk=member_id)


def partnership_organisations(partnership: Partnership) -> QuerySet[Organisation]:
    """The organisations a member of the partnership may work for."""
    return partnership.organisations.order_by("name")


def user_by_username(username: str) -> AbstractBaseUser | None:
    model = get_user_model()
    found: AbstractBaseUser | None = model.objects.filter(
        **{f"{model.USERNAME_FIELD}__iexact": username.strip()}
    ).first()
    return found
