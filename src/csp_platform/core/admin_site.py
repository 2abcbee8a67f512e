"""The admin site: for superusers (the developers) only.

Staff users who are not superusers are refused like anonymous visitors: a partnership's
members are managed in the product's own Members page (``core.member_views``), under the
same partnership scoping and logging as every other page. No model is imported here: the
site is built lazily, once the apps are loaded.
"""

from __future__ import annotations

import json
import logging

from django.contrib import admin
from django.http import HttpRequest

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
