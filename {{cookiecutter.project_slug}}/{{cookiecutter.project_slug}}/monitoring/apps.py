from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Error monitoring, structured logs, health probes and alerting, one module each."""

    name = "{{ cookiecutter.project_slug }}.monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from .health import system_checks  # noqa: F401 - registers the settings check
