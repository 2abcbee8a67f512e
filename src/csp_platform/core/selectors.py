"""Reads of memberships and partnership-scoped areas; access is part of fetching.

``membership_get_for`` is the gate for every partnership page: a user who is not a member
gets 404, so a partnership's existence is not confirmed to outsiders. Areas are scoped the
same way: a ward, district or custom area outside the partnership's districts is a 404.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from csp_platform.areas.models import Area
from csp_platform.core.models import Membership, Partnership

User = AbstractBaseUser | AnonymousUser
SCOPE_LEVELS = ("district", "ward", "custom")


def membership_list_for(user: User) -> QuerySet[Membership]:
    if not user.is_authenticated or not user.is_active:
        return Membership.objects.none()
    return Membership.objects.filter(user_id=user.pk).select_related("partnership", "organisation")


def membership_get_for(user: User, partnership_slug: str) -> Membership:
    """The user's membership of the partnership, or 404 (outsiders learn nothing)."""
    return get_object_or_404(membership_list_for(user), partnership__slug=partnership_slug)


def partnership_districts(partnership: Partnership) -> list[Area]:
    return list(partnership.districts.defer("geometry_wkb").order_by("name"))


def newest_generation(level: str) -> str | None:
    value = Area.objects.filter(level=level).aggregate(g=Max("generation"))["g"]
    return str(value) if value is not None else None


def partnership_areas(partnership: Partnership, level: str) -> QuerySet[Area]:
    """Areas of one level inside the partnership's districts (newest generation for wards).

    Geometries are left out (``area_geometry`` reads one when it is needed)."""
    qs = Area.objects.filter(level=level, parent__in=partnership.districts.all())
    qs = qs.defer("geometry_wkb")
    if level == "ward":
        qs = qs.filter(generation=newest_generation("ward"))
    return qs.order_by("name")


def area_get_for(
    membership: Membership, code: str, *, levels: tuple[str, ...] = SCOPE_LEVELS
) -> Area:
    """An area the membership's partnership covers, by code; 404 for any other."""
    partnership = membership.partnership
    qs = Area.objects.filter(code=code, level__in=levels).order_by("-generation")
    for area in qs:
        if area.level == "district" and partnership.districts.filter(pk=area.pk).exists():
            return area
        if (
            area.level != "district"
            and area.parent_id is not None
            and partnership.districts.filter(pk=area.parent_id).exists()
        ):
            return area
    raise Http404("no such area in this partnership")
