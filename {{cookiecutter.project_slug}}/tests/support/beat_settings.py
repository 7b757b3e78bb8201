"""Test settings plus one periodic task every second, for tests running a real beat.

The entry's name comes from BEAT_ENTRY, so sessions side by side never share one.
"""

import os

from config.settings.test import *  # noqa: F403

# A real beat publishes: eager mode does nothing for its send_task() but warn.
CELERY_TASK_ALWAYS_EAGER = False

CELERY_BEAT_SCHEDULE = {
    os.environ["BEAT_ENTRY"]: {
        "task": "tests.support.slow_tasks.nap",
        "schedule": 1.0,
        "args": (0,),
        "options": {"queue": os.environ["BEAT_QUEUE"]},
    },
}
