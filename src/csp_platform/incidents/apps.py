from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "csp_platform.incidents"
    label = "incidents"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from csp_platform.incidents import scope  # noqa: F401  (declares areas' audit owner)
        from csp_platform.incidents.staging import attach_stage

        connection_created.connect(attach_stage, dispatch_uid="csp_attach_stage")
