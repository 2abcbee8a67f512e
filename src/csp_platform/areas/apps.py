from django.apps import AppConfig


class AreasConfig(AppConfig):
    name = "csp_platform.areas"
    label = "areas"
