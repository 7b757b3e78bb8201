"""Periodic tasks that did not run on time, found without beat's help.

Workers record when each task that beat sent starts (task_prerun: beat marks its
messages with the `celery_beat_task` header), by task name, in the default cache.
An entry of CELERY_BEAT_SCHEDULE whose next run is overdue by more than
CELERY_BEAT_GRACE seconds was missed: beat stopped, or no worker took the task.

- /health/ shows it as the `beat` check (warning only: health/checks.py);
- a consumer step checks every CELERY_BEAT_CHECK_INTERVAL seconds, on a thread of
  its own, and reports each missed run once, whichever worker sees it first (a
  cache key): a warning line, then every function in `on_missed_beat`.

Runs are kept per task name: entries that share a task are checked against its
latest run. A task that never ran is measured from when the check first saw its
entry. Entries kept by a database scheduler (django-celery-beat) are not in
CELERY_BEAT_SCHEDULE and are not checked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from celery import Celery, Task, bootsteps
from celery.schedules import BaseSchedule, maybe_schedule
from celery.signals import task_prerun
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

LAST_RUN_KEY = "celery-beat:last-run:{task}"
FIRST_SEEN_KEY = "celery-beat:first-seen:{entry}"
REPORTED_KEY = "celery-beat:reported:{entry}:{due}"


@dataclass(frozen=True)
class MissedBeat:
    entry: str
    task: str
    due_at: float  # when it should have run (Unix time)
    overdue_seconds: float


# Called once per missed run, on the checker thread (docs/celery.md lists who subscribes).
on_missed_beat: list[Callable[[MissedBeat], None]] = []


def record_beat_run(task: Task[..., Any], **kwargs: Any) -> None:
    if getattr(task.request, "celery_beat_task", False):
        cache.set(LAST_RUN_KEY.format(task=task.name), time.time(), timeout=None)


def last_run(entry: str, task: str, now: float) -> float:
    ran = cache.get(LAST_RUN_KEY.format(task=task))
    if ran is not None:
        return float(ran)
    cache.add(FIRST_SEEN_KEY.format(entry=entry), now, timeout=None)
    return float(cache.get(FIRST_SEEN_KEY.format(entry=entry), now))


def missed_beats(app: Celery, now: float) -> list[MissedBeat]:
    """The entries of the beat schedule overdue by more than the grace, now."""
    missed = []
    for entry, spec in (app.conf.beat_schedule or {}).items():
        # maybe_schedule turns a number or timedelta into a schedule; its annotation
        # (Celery's and celery-types') still lists them among the results.
        schedule = cast(BaseSchedule, maybe_schedule(spec["schedule"], app=app))
        previous = datetime.fromtimestamp(last_run(entry, spec["task"], now), UTC)
        # The schedule counts from its own clock (schedule.now()), `now` may differ.
        due_at = time.time() + schedule.remaining_estimate(previous).total_seconds()
        if now - due_at > settings.CELERY_BEAT_GRACE:
            missed.append(MissedBeat(entry, spec["task"], due_at, now - due_at))
    return missed


def report(missed: MissedBeat) -> None:
    logger.warning(
        "Periodic task %s (%s) missed: due %.0f s ago, not run",
        missed.entry,
        missed.task,
        missed.overdue_seconds,
        extra={
            "beat_entry": missed.entry,
            "task_name": missed.task,
            "overdue_s": round(missed.overdue_seconds, 1),
        },
    )
    for hook in list(on_missed_beat):
        try:
            hook(missed)
        except Exception:  # one failing integration must not silence the others
            logger.exception("missed beat report failed in %s", getattr(hook, "__qualname__", hook))


def report_new(app: Celery, now: float) -> None:
    for missed in missed_beats(app, now):
        # cache.add is atomic: of all workers, the first to see this missed run reports it.
        key = REPORTED_KEY.format(entry=missed.entry, due=int(missed.due_at))
        if cache.add(key, 1, timeout=7 * 24 * 3600):
            report(missed)


class MissedBeatWatch(bootsteps.StartStopStep):
    """Consumer step: a thread checks the schedule while the worker consumes."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.stopping = threading.Event()
        self.checker: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        if self.checker is None and parent.app.conf.beat_schedule:
            self.checker = threading.Thread(
                target=self.check_until_stopped,
                args=(parent.app,),
                name="missed-beats",
                daemon=True,
            )
            self.checker.start()

    def check_until_stopped(self, app: Celery) -> None:
        while not self.stopping.wait(settings.CELERY_BEAT_CHECK_INTERVAL):
            try:
                report_new(app, time.time())
            except Exception:  # the cache is down: the health check says so
                logger.warning("missed beats not checked", exc_info=True)

    def shutdown(self, parent: Any) -> None:
        self.stopping.set()


RECEIVERS = ((task_prerun, record_beat_run),)
