"""Prometheus metrics: GET /metrics for the web, an exporter port for Celery workers.

Other modules record through the functions below; the metric objects live in
`instruments`, the HTTP side in `middleware`, the Celery side in `worker`.
"""

from .instruments import (
{%- if cookiecutter.use_sentry == "y" %}
    observe_alert_dispatch,
{%- endif %}
    observe_health_check,
{%- if cookiecutter.use_sentry == "y" %}
    observe_webhook_alert,
{%- endif %}
)

__all__ = [
{%- if cookiecutter.use_sentry == "y" %}
    "observe_alert_dispatch",
{%- endif %}
    "observe_health_check",
{%- if cookiecutter.use_sentry == "y" %}
    "observe_webhook_alert",
{%- endif %}
]
