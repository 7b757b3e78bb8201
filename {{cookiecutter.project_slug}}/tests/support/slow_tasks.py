"""Tasks for tests on real workers, which import them (`-I tests.support.slow_tasks`)."""

import time
from contextlib import suppress
from pathlib import Path

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


def record_and_work(path: str, seconds: float) -> str:
    """Append a line per start; only the first run takes `seconds` (the one killed)."""
    log = Path(path)
    first = not log.exists()
    with log.open("a") as lines:
        lines.write("started\n")
    time.sleep(seconds if first else 0)
    with log.open("a") as lines:
        lines.write("finished\n")
    return "done"


@shared_task(acks_late=True)
def safe_to_repeat(path: str, seconds: float) -> str:
    return record_and_work(path, seconds)


@shared_task
def runs_at_most_once(path: str, seconds: float) -> str:
    return record_and_work(path, seconds)
