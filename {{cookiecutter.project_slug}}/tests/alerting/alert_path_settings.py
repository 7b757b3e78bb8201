"""Test settings with the real "alert-path-check" beat entry, every second, on a test queue."""

import os

from config.settings import base
from config.settings.test import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {
    "alert-path-check": {
        **base.CELERY_BEAT_SCHEDULE["alert-path-check"],
        "schedule": 1.0,
        "options": {"queue": os.environ["BEAT_QUEUE"]},
    },
}
