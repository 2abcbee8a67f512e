"""Every view declares its access (core/permissions.py); tests/platform/test_conventions.py
checks each pattern here. The admin site is for superusers (developers) only
(core/admin_site.py); partnership administrators manage members on the Members page."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("csp_platform.core.urls")),
    path("p/<slug:partnership>/", include("csp_platform.hub.urls")),
    path("p/<slug:partnership>/data/", include("csp_platform.incidents.urls")),
    path("p/<slug:partnership>/members/", include("csp_platform.core.member_urls")),
    path("p/<slug:partnership>/plans/", include("csp_platform.plans.urls")),
    path("p/<slug:partnership>/", include("csp_platform.plans.indicator_urls")),
    path("admin/", admin.site.urls),
]
