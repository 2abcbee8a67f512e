from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "csp_platform.plans"
    label = "plans"
    verbose_name = "Delivery plans"
