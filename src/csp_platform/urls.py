"""Every view declares its access (core/permissions.py); tests/platform/test_conventions.py
checks each pattern here. The admin site is for superusers (developers) only
(core/admin_site.py); partnership administrators manage members on the Members page."""

from django.contrib import admin
from django.urls import include, path

from csp_platform.core.views import admin_sign_in

# One sign-in for the whole site: the admin's login page sends people to ours (limits,
# second factor, logging).
admin.site.login = admin_sign_in  # type: ignore[method-assign]

urlpatterns = [
    path("", include("csp_platform.core.urls")),
    path("p/<slug:partnership>/", include("csp_platform.hub.urls")),
    path("p/<slug:partnership>/data/", include("csp_platform.incidents.urls")),
    path("p/<slug:partnership>/members/", include("csp_platform.core.member_urls")),
    path("admin/", admin.site.urls),
]
