from django.apps import AppConfig


class AlertingConfig(AppConfig):
    """Sentry's webhooks turned into alerts, one module per step (listed in README.md)."""

    name = "{{ cookiecutter.project_slug }}.alerting"
    verbose_name = "Alerting"
{%- if cookiecutter.use_prometheus == "y" %}

    def ready(self) -> None:
        from . import metrics  # noqa: F401 - counts webhooks and deliveries (signals.py)
{%- endif %}
