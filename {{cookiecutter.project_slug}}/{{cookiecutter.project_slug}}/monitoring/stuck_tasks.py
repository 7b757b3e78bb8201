"""Tasks running far longer than they should, reported once each by the worker.

A consumer step checks, every CELERY_STUCK_TASK_CHECK_INTERVAL seconds, the
tasks the worker's pool is running (from the worker's main process, so a task
stuck in C code or a deadlock cannot keep it quiet). A task is stuck past

- `expected_runtime` x CELERY_STUCK_TASK_FACTOR, when the task declares how
  long it normally takes (`@shared_task(expected_runtime=30)`, seconds);
- else its soft time limit (the task's, the message's or CELERY_TASK_SOFT_TIME_LIMIT):
  a task still running after it ignored or swallowed SoftTimeLimitExceeded.

Each stuck task is reported once: a warning line (task_id, task_name, request_id,
running_s, threshold_s), then every function in `on_stuck_task` with a StuckTask
(each integration subscribes where it is set up). They run on a thread of their
own, so a slow one never holds the consumer's loop. With `--pool=solo` the task
runs on that loop and nothing is checked while it runs (the liveness probe
catches a wedged solo worker).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import bootsteps
from django.conf import settings

from .context import REQUEST_ID_KEY, valid_request_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StuckTask:
    task_id: str
    task_name: str
    request_id: str | None
    running_seconds: float
    threshold_seconds: float
    hostname: str


# Called once per stuck task, on the reporter thread (docs/celery.md lists who subscribes).
on_stuck_task: list[Callable[[StuckTask], None]] = []


def threshold_seconds(
    task: Any, time_limits: tuple[Any, Any] | None, default_soft: Any
) -> float | None:
    """After how long the task counts as stuck; None: never."""
    expected = getattr(task, "expected_runtime", None)
    if expected:
        return float(expected) * settings.CELERY_STUCK_TASK_FACTOR
    soft = (time_limits or (None, None))[0] or getattr(task, "soft_time_limit", None)
    soft = soft or default_soft
    return float(soft) if soft else None


def report(stuck: StuckTask) -> None:
    fields: dict[str, object] = {
        "task_id": stuck.task_id,
        "task_name": stuck.task_name,
        "running_s": round(stuck.running_seconds, 1),
        "threshold_s": round(stuck.threshold_seconds, 1),
    }
    if stuck.request_id:
        fields[REQUEST_ID_KEY] = stuck.request_id
    logger.warning(
        "Task %s[%s] stuck: running for %.1f s, past its %.1f s threshold",
        stuck.task_name,
        stuck.task_id,
        stuck.running_seconds,
        stuck.threshold_seconds,
        extra=fields,
    )
    for hook in list(on_stuck_task):
        try:
            hook(stuck)
        except Exception:  # one failing integration must not silence the others
            logger.exception("stuck task report failed in %s", getattr(hook, "__qualname__", hook))


class StuckTaskWatch(bootsteps.StartStopStep):
    """Consumer step: a timer on the consumer's loop finds them, a thread reports them."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.reported: set[str] = set()
        self.timer: Any = None
        self.reports: queue.SimpleQueue[StuckTask | None] = queue.SimpleQueue()
        self.reporter: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        if self.reporter is None:
            self.reporter = threading.Thread(
                target=self.send_reports, name="stuck-tasks", daemon=True
            )
            self.reporter.start()
        interval = settings.CELERY_STUCK_TASK_CHECK_INTERVAL
        self.timer = parent.timer.call_repeatedly(interval, self.check, (parent,))

    def check(self, parent: Any) -> None:
        from celery.worker.state import active_requests

        now, running = time.time(), set()
        default_soft = parent.app.conf.task_soft_time_limit
        for request in list(active_requests):
            if not request.time_start:
                continue  # not started by the pool yet
            running.add(request.id)
            if request.id in self.reported:
                continue
            threshold = threshold_seconds(request.task, request.time_limits, default_soft)
            elapsed = now - request.time_start
            if threshold is not None and elapsed > threshold:
                self.reported.add(request.id)
                request_id = valid_request_id(request.request_dict.get(REQUEST_ID_KEY))
                self.reports.put(
                    StuckTask(
                        request.id, request.name, request_id, elapsed, threshold, parent.hostname
                    )
                )
        self.reported &= running  # forget tasks that ended

    def send_reports(self) -> None:
        while (stuck := self.reports.get()) is not None:
            report(stuck)

    def stop(self, parent: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        self.reports.put(None)
