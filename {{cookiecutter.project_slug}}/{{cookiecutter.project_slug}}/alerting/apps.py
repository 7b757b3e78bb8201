from importlib import import_module

from django.apps import AppConfig

# Imported when the app is ready, for what they subscribe to: stuck and missed Celery
{%- if cookiecutter.use_prometheus == "y" %}
# tasks (celery_reports.py), and the webhook and delivery signals that metrics.py counts.
SUBSCRIBERS = ("celery_reports", "metrics")
{%- else %}
# tasks (celery_reports.py).
SUBSCRIBERS = ("celery_reports",)
{%- endif %}


class AlertingConfig(AppConfig):
    """Sentry's webhooks turned into alerts, one module per step (listed in README.md)."""

    name = "{{ cookiecutter.project_slug }}.alerting"
    verbose_name = "Alerting"

    def ready(self) -> None:
        for module in SUBSCRIBERS:
            import_module(f"{self.name}.{module}")
