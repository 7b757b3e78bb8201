"""How long each Celery task waited in its queue and ran, on its log lines.

Receivers, connected by celery_signals.connect_celery_signals():

- before_task_publish: the message carries the time it was sent, in a header
  (no event stream is needed to know the wait);
- task_prerun: the wait (from that time, or from the ETA of a delayed task,
  to now) is bound as `queue_wait_ms` for every line the task writes; the wait
  and the start are kept on the task's request, for the receivers after this
  (recorded_queue_wait, runtime_seconds);
- task_postrun: `queue_wait_ms` is unbound again, so lines written between
  tasks carry none.

The task's final line (Celery's "succeeded in", "raised", "retry", from the
logger celery.app.trace) gets `runtime_ms` too, from FinishedTaskTimes, a
logging filter that LOGGING installs on that logger (logs.py).

Publish and start times come from two hosts' clocks: a skew shows as a longer
or shorter wait, never a negative one.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from celery import Task, current_task
from celery.signals import before_task_publish, task_postrun, task_prerun
from structlog.contextvars import bind_contextvars, reset_contextvars

PUBLISHED_AT_HEADER = "published_at"
QUEUE_WAIT_KEY = "queue_wait_ms"
RUNTIME_KEY = "runtime_ms"
# What task_prerun keeps on the task's request: its start (time.monotonic()), its
# wait (None: unknown), and the context tokens task_postrun resets.
_STARTED_ATTRIBUTE = "started_monotonic"
_WAIT_ATTRIBUTE = "queue_wait_seconds"
_TOKENS_ATTRIBUTE = "queue_wait_tokens"


def stamp_publish_time(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    # Set, not setdefault: a retry is published again and waits again.
    if headers is not None:
        headers[PUBLISHED_AT_HEADER] = time.time()


def eta_timestamp(eta: object) -> float | None:
    """A delayed task's ETA (an ISO 8601 string in the message) as a Unix time."""
    if isinstance(eta, datetime):
        return eta.timestamp()
    if isinstance(eta, str):
        try:
            return datetime.fromisoformat(eta).timestamp()
        except ValueError:
            return None
    return None


def queue_wait_seconds(request: Any, now: float) -> float | None:
    """From when the task could start (sent, or its ETA) to `now`; None if unknown."""
    published_at = getattr(request, PUBLISHED_AT_HEADER, None)
    if not isinstance(published_at, (int, float)) or request.is_eager:
        return None
    ready_at = max(published_at, eta_timestamp(request.eta) or published_at)
    return max(0.0, now - ready_at)


def bind_queue_wait(task_id: str, task: Task[..., Any], **kwargs: Any) -> None:
    request = task.request
    setattr(request, _STARTED_ATTRIBUTE, time.monotonic())
    wait = queue_wait_seconds(request, time.time())
    setattr(request, _WAIT_ATTRIBUTE, wait)
    if wait is not None:
        tokens = bind_contextvars(**{QUEUE_WAIT_KEY: round(wait * 1000)})
        setattr(request, _TOKENS_ATTRIBUTE, tokens)


def unbind_queue_wait(task: Task[..., Any], **kwargs: Any) -> None:
    tokens = getattr(task.request, _TOKENS_ATTRIBUTE, None)
    if tokens:
        reset_contextvars(**tokens)


def recorded_queue_wait(request: Any) -> float | None:
    """The wait task_prerun measured for the running task (None: unknown, or not run)."""
    return getattr(request, _WAIT_ATTRIBUTE, None)


def runtime_seconds(request: Any) -> float | None:
    started = getattr(request, _STARTED_ATTRIBUTE, None)
    return None if started is None else time.monotonic() - started


class FinishedTaskTimes(logging.Filter):
    """Add `runtime_ms` to the line Celery writes when a task ends.

    Celery writes it in the worker (or the eager caller) while the task is
    still the current one, before task_postrun; Celery's own `data.runtime`
    is on success lines only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(current_task, "request", None) if current_task else None
        runtime = runtime_seconds(request) if request is not None else None
        if runtime is not None:
            setattr(record, RUNTIME_KEY, round(runtime * 1000))
        return True


RECEIVERS = (
    (before_task_publish, stamp_publish_time),
    (task_prerun, bind_queue_wait),
    (task_postrun, unbind_queue_wait),
)
