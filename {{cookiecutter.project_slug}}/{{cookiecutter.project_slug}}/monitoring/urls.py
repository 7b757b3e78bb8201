from django.urls import path

{% if cookiecutter.use_sentry == "y" -%}
from . import webhooks
{% endif -%}
from .health import views as health

urlpatterns = [
    path("health/", health.health, name="health"),
    path("health/ready/", health.readiness, name="health-ready"),
    path("health/live/", health.liveness, name="health-live"),
    path("health/db/", health.database_details, name="health-db"),
{%- if cookiecutter.use_sentry == "y" %}
    path("webhooks/sentry/", webhooks.sentry_webhook, name="sentry-webhook"),
{%- endif %}
]
