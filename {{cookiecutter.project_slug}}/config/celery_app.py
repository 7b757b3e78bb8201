"""The Celery application: `celery -A config.celery_app worker` (or `beat`)."""

import os

from celery import Celery
{%- if cookiecutter.use_sentry == "y" %}
from celery.signals import beat_init, celeryd_init
{%- endif %}

# Connects the logging/correlation signal receivers in every process using the app.
import {{ cookiecutter.project_slug }}.monitoring.correlation  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("{{ cookiecutter.project_slug }}")
# Every CELERY_* Django setting configures the app (CELERY_BROKER_URL -> broker_url).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
{%- if cookiecutter.use_sentry == "y" %}


@celeryd_init.connect
@beat_init.connect
def init_sentry_for_celery(**kwargs: object) -> None:
    """Workers and beat start Sentry before any task runs or is scheduled."""
    from {{ cookiecutter.project_slug }}.monitoring.sentry import init_sentry

    init_sentry()
{%- endif %}
