from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "csp_platform.core"
    label = "core"
