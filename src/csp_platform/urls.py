"""Every view declares its access (core/permissions.py); tests/platform/test_conventions.py
checks each pattern here. The admin site is Django's own (staff only)."""

from django.contrib import admin
from django.urls import include, path

from csp_platform.core.views import admin_sign_in

admin.site.site_header = "CSP Hub"
admin.site.site_title = "CSP Hub"
admin.site.index_title = "Data hub"
# One sign-in for the whole site: the admin's login page sends people to ours (limits,
# second factor, logging).
admin.site.login = admin_sign_in  # type: ignore[method-assign]

urlpatterns = [
    path("", include("csp_platform.core.urls")),
    path("p/<slug:partnership>/", include("csp_platform.hub.urls")),
    path("p/<slug:partnership>/data/", include("csp_platform.incidents.urls")),
    path("admin/", admin.site.urls),
]
