from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoreConfig(AppConfig):
    default = True
    name = "csp_platform.core"
    label = "core"


class CspAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the superuser-only site (core/admin_site.py)."""

    default = False
    default_site = "csp_platform.core.admin_site.SuperuserAdminSite"
