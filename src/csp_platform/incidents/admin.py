"""Read-mostly admin pages: imports are done by `csp import-incidents`, never by hand."""

from __future__ import annotations

from django.contrib import admin

from csp_platform.incidents import models


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(models.Incident)
class IncidentAdmin(ReadOnly):
    list_display = ("month", "source_category", "category", "place", "ward", "source")
    list_filter = ("source", "category__theme", "month", "place__location_precision")
    list_select_related = ("category", "place", "ward", "source")
    show_full_result_count = False


@admin.register(models.Place)
class PlaceAdmin(ReadOnly):
    list_display = ("location_text", "location_precision", "lsoa_given", "ward", "district")
    list_filter = ("location_precision",)
    list_select_related = ("ward", "district")
    show_full_result_count = False


@admin.register(models.Source)
class SourceAdmin(ReadOnly):
    list_display = ("name", "code", "organisation", "kind", "scheme")


@admin.register(models.ImportBatch)
class ImportBatchAdmin(ReadOnly):
    list_display = (
        "source",
        "started_at",
        "rows_read",
        "rows_new",
        "rows_duplicate",
        "rows_excluded",
    )


@admin.register(models.Category)
class CategoryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "code", "theme")
    list_filter = ("theme",)


@admin.register(models.Theme)
class ThemeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "code", "order")


@admin.register(models.Crosswalk)
class CrosswalkAdmin(ReadOnly):
    list_display = ("scheme", "version", "created_at", "note")


@admin.register(models.AggregateRecord)
class AggregateAdmin(ReadOnly):
    list_display = (
        "month",
        "period_months",
        "area_code_given",
        "source_category",
        "count",
        "source",
    )
    list_filter = ("source",)
