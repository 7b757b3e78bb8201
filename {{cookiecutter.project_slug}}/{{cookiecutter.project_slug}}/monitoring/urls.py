from django.urls import path

from . import health{% if cookiecutter.use_sentry == "y" %}, webhooks{% endif %}

urlpatterns = [
    path("health/live/", health.liveness, name="health-live"),
{%- if cookiecutter.use_sentry == "y" %}
    path("webhooks/sentry/", webhooks.sentry_webhook, name="sentry-webhook"),
{%- endif %}
]
