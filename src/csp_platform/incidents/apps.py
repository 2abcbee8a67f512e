from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "csp_platform.incidents"
    label = "incidents"
