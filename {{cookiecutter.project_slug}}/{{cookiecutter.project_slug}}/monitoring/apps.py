from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Error monitoring, structured logs, health probes and alerting, one module each."""

    name = "{{ cookiecutter.project_slug }}.monitoring"
    verbose_name = "Monitoring"
{%- if cookiecutter.use_sentry == "y" %}

    def ready(self) -> None:
        # Once per process, after settings load and before any request or task runs.
        from .sentry import init_sentry

        init_sentry()
{%- endif %}
