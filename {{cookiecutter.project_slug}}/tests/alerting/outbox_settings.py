"""Test settings plus the outbox's sweeper, every ALERT_SWEEP_INTERVAL s, for a real beat."""

from config.settings.test import *  # noqa: F403
from config.settings.test import ALERT_SWEEP_INTERVAL, CELERY_TASK_DEFAULT_QUEUE

CELERY_BEAT_SCHEDULE = {
    "alerts-sweep": {
        "task": "{{ cookiecutter.project_slug }}.alerting.tasks.sweep_deliveries",
        "schedule": ALERT_SWEEP_INTERVAL,
        "options": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    },
}
