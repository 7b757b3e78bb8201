"""Tasks for the stuck-task tests, imported by their worker (`-I tests.support.slow_tasks`)."""

import time
from contextlib import suppress

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded


@shared_task(expected_runtime=0.2)
def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


@shared_task(soft_time_limit=0.5)
def ignore_the_soft_limit(seconds: float) -> str:
    """What a stuck task does with SoftTimeLimitExceeded: swallows it and carries on."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with suppress(SoftTimeLimitExceeded):
            time.sleep(0.05)
    return "done"
