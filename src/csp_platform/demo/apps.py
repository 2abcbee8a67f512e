from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo set-up (``csp load-demo``): at the top of the layers, above every app."""

    name = "csp_platform.demo"
    label = "demo"
