from __future__ import annotations

from django.contrib import admin

from csp_platform.core.models import Organisation, Partnership


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "slug")


@admin.register(Partnership)
class PartnershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "slug")
    filter_horizontal = ("organisations", "districts")
