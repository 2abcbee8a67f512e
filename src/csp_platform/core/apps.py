from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoreConfig(AppConfig):
    default = True
    name = "csp_platform.core"
    label = "core"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from csp_platform.core import checks  # noqa: F401 - registers the deploy check

        # Each app declares its resources beside its models, in its policy.py (core/policy.py).
        autodiscover_modules("policy")


class CspAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the superuser-only site (core/admin_site.py)."""

    default = False
    default_site = "csp_platform.core.admin_site.SuperuserAdminSite"
