"""Reads of memberships; access is part of fetching.

``membership_get_for`` is the gate for every partnership page: a user who is not a member
gets 404, so a partnership's existence is not confirmed to outsiders. Areas are scoped in
the read path's one scope (:mod:`csp_platform.incidents.scope`): a ward, district or custom
area outside the partnership's districts is a 404 there.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from csp_platform.core.models import Membership

User = AbstractBaseUser | AnonymousUser
SCOPE_LEVELS = ("district", "ward", "custom")


def membership_list_for(user: User) -> QuerySet[Membership]:
    if not user.is_authenticated or not user.is_active:
        return Membership.objects.none()
    return Membership.objects.filter(user_id=user.pk).select_related("partnership", "organisation")


def membership_get_for(user: User, partnership_slug: str) -> Membership:
    """The user's membership of the partnership, or 404 (outsiders learn nothing)."""
    return get_object_or_404(membership_list_for(user), partnership__slug=partnership_slug)
