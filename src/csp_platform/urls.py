"""Every view declares its access (core/permissions.py); tests/platform/test_conventions.py
checks each pattern here. The admin site is Django's own (staff only)."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "CSP Hub"
admin.site.site_title = "CSP Hub"
admin.site.index_title = "Data hub"

urlpatterns = [
    path("", include("csp_platform.core.urls")),
    path("p/<slug:partnership>/", include("csp_platform.hub.urls")),
    path("p/<slug:partnership>/data/", include("csp_platform.incidents.urls")),
    path("p/<slug:partnership>/plans/", include("csp_platform.plans.urls")),
    path("p/<slug:partnership>/", include("csp_platform.plans.indicator_urls")),
    path("admin/", admin.site.urls),
]
