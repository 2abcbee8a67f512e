from __future__ import annotations

from django.contrib import admin

from csp_platform.areas.models import Area


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "code", "level", "generation", "parent", "population")
    list_filter = ("level", "generation")
    search_fields = ("name", "code")
    exclude = ("geometry_wkb",)
    readonly_fields = (
        "level",
        "code",
        "generation",
        "min_lon",
        "min_lat",
        "max_lon",
        "max_lat",
        "source_file",
    )
