from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Error monitoring, structured logs, health probes and alerting, one module each."""

    name = "{{ cookiecutter.project_slug }}.monitoring"
    verbose_name = "Monitoring"
{%- if cookiecutter.use_prometheus == "y" %}

    def ready(self) -> None:
        # Prometheus: connects the Celery task signals and the worker exporter.
        from .metrics import worker  # noqa: F401
{%- endif %}
