"""The admin site: for superusers (the developers) only.

Staff users who are not superusers are refused like anonymous visitors: a partnership's
members are managed in the product's own Members page (``core.member_views``), under the
same partnership scoping and logging as every other page. No model is imported here: the
site is built lazily, once the apps are loaded.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator

security_log = logging.getLogger("csp.security")


class SuperuserAdminSite(admin.AdminSite):
    site_header = "CSP Hub"
    site_title = "CSP Hub"
    index_title = "Data hub (developers)"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        allowed = bool(user.is_active and user.is_superuser)
        if user.is_authenticated and not allowed:
            security_log.warning(
                json.dumps(
                    {"event": "admin_refused", "user": user.get_username(), "path": request.path}
                )
            )
        return allowed

    @method_decorator(login_not_required)
    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """One sign-in for the whole site: the admin's login page sends people to ours
        (limits, second factor, logging)."""
        from csp_platform.core.views import admin_sign_in

        return admin_sign_in(request, extra_context)
