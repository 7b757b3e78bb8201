"""The Celery application: `celery -A config.celery_app worker` (or `beat`)."""

import os

from celery import Celery

# Connects the logging/correlation signal receivers in every process using the app.
import {{ cookiecutter.project_slug }}.monitoring.correlation  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("{{ cookiecutter.project_slug }}")
# Every CELERY_* Django setting configures the app (CELERY_BROKER_URL -> broker_url).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
