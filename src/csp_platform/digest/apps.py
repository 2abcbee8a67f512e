from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "csp_platform.digest"
    verbose_name = "Weekly digest of overdue and at-risk actions"
