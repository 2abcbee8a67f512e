from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "csp_platform.analysis"
    label = "analysis"
