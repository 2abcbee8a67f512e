from django.apps import AppConfig


class HubConfig(AppConfig):
    name = "csp_platform.hub"
    label = "hub"
    verbose_name = "AIM web hub"
