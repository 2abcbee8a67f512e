from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "csp_platform.core"
    label = "core"

    def ready(self) -> None:
        from csp_platform.core import checks  # noqa: F401 - registers the deploy check
