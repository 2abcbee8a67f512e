from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from csp_platform.core.models import ExportRecord, Membership, Organisation, Partnership


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "slug")


@admin.register(Partnership)
class PartnershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "slug")
    filter_horizontal = ("organisations", "districts")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Who is in which partnership, for which organisation, in which role."""

    list_display = ("user", "partnership", "organisation", "role")
    list_filter = ("partnership", "role", "organisation")
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)


@admin.register(ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The export log: readable by staff, never changed or deleted."""

    list_display = ("created_at", "username", "role", "organisation", "partnership", "kind", "rows")
    list_filter = ("kind", "point_level", "partnership", "role")
    search_fields = ("username",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
