from __future__ import annotations

from django.contrib import admin

from csp_platform.core.models import Membership, Organisation, Partnership


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
