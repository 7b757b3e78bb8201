from importlib import import_module

from django.apps import AppConfig

# Imported when the app is ready, for what they subscribe to: stuck Celery tasks
{%- if cookiecutter.use_prometheus == "y" %}
# (stuck_tasks.py), and the webhook and delivery signals that metrics.py counts.
SUBSCRIBERS = ("stuck_tasks", "metrics")
{%- else %}
# (stuck_tasks.py).
SUBSCRIBERS = ("stuck_tasks",)
{%- endif %}


class AlertingConfig(AppConfig):
    """Sentry's webhooks turned into alerts, one module per step (listed in README.md)."""

    name = "{{ cookiecutter.project_slug }}.alerting"
    verbose_name = "Alerting"

    def ready(self) -> None:
        for module in SUBSCRIBERS:
            import_module(f"{self.name}.{module}")
