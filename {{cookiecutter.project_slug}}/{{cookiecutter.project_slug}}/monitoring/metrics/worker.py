"""Celery task metrics, from task signals, and the worker's own /metrics exporter.

A worker and its prefork children write samples to the private PROMETHEUS_MULTIPROC_DIR
that config/celery_app.py chose; the exporter thread in the main process adds them up.
Prometheus scrapes every worker on METRICS_WORKER_PORT (no push gateway).

A child that ends (worker_max_tasks_per_child, a time limit, a crash) leaves files a scrape
would read for ever: they are folded into the totals (_multiprocess_files.py). A child
ending normally folds its own on worker_process_shutdown; one killed outright cannot, so
each scrape first folds the files of pids that are no longer alive. A scrape is the one
moment the files are read, so nothing needs a timer, and a pid is only folded once its
process is gone (reaped), so no sample it wrote can be missed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from billiard.exceptions import WorkerLostError
from celery import current_app, signals
from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST

from ..missed_beats import MissedBeat
from ..stuck_tasks import StuckTask
from ..task_timing import recorded_queue_wait, runtime_seconds
from ._multiprocess_files import pids_with_files, process_ended
from .access import AccessPolicy
from .exposition import CeleryWorkerUp, render
from .instruments import (
    CELERY_MISSED_BEATS,
    CELERY_STUCK_TASKS,
    CELERY_TASK_QUEUE_WAIT,
    CELERY_TASK_RUNTIME,
    CELERY_TASKS,
    CELERY_TASKS_IN_FLIGHT,
)

logger = logging.getLogger(__name__)

STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}
OTHER = "other"
_exporter: list[WSGIServer] = []


def task_label(name: str) -> str:
    """A registered task's name; anything else (a message for an unknown task) is one value."""
    return name if name in current_app.tasks else OTHER


def queue_label(request: Any) -> str:
    """The queue a message came from, when the app declares it (else one value)."""
    queue = (getattr(request, "delivery_info", None) or {}).get("routing_key") or ""
    return queue if queue in current_app.amqp.queues else OTHER


def task_started(task: Any, **_: object) -> None:
    """task_prerun, after task_timing's receiver measured the task's wait."""
    name = task_label(task.name)
    CELERY_TASKS.labels(name, "started").inc()
    CELERY_TASKS_IN_FLIGHT.inc()
    wait = recorded_queue_wait(task.request)
    if wait is not None:
        CELERY_TASK_QUEUE_WAIT.labels(name, queue_label(task.request)).observe(wait)


def task_finished(task: Any, state: str | None = None, **_: object) -> None:
    runtime = runtime_seconds(task.request)
    name = task_label(task.name)
    if runtime is not None:
        CELERY_TASK_RUNTIME.labels(name).observe(runtime)
        CELERY_TASKS_IN_FLIGHT.dec()
    CELERY_TASKS.labels(name, STATES.get(state or "", str(state).lower())).inc()


def count_lost_worker(sender: Any, exception: BaseException | None = None, **_: object) -> None:
    """task_failure in the main process: a pool process died under a task (kill -9, OOM).

    The task's own process never ends it, so no other receiver sees the run finish. An
    acks_late task requeued for another try (reject_on_worker_lost) sends no signal.
    """
    if isinstance(exception, WorkerLostError):
        CELERY_TASKS.labels(task_label(sender.name), "worker_lost").inc()


def count_stuck_task(stuck: StuckTask) -> None:
    """A stuck_tasks.on_stuck_task hook, in the worker's main process."""
    CELERY_STUCK_TASKS.labels(stuck.task_name).inc()


def count_missed_beat(missed: MissedBeat) -> None:
    """A missed_beats.on_missed_beat hook, in the worker's main process (entries are few)."""
    CELERY_MISSED_BEATS.labels(missed.entry).inc()


# Files of ended children --------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process now has that pid
    return True


def fold_ended_processes() -> None:
    """Fold the files of every process in the metrics folder that is gone."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        for pid in pids_with_files(folder):
            if pid != os.getpid() and not _alive(pid):
                process_ended(folder, pid)


def fold_own_files(**_: object) -> None:
    """worker_process_shutdown, in a child that is ending: it records nothing more."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        process_ended(folder, os.getpid())


# Exporter -----------------------------------------------------------------------------
class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[WSGIRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every few seconds would flood the worker log."""


def exporter_app(policy: AccessPolicy) -> Callable[..., Iterable[bytes]]:
    """A WSGI app serving GET /metrics with the same access rules as the web."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status = policy.status_for(environ) if environ.get("PATH_INFO") == "/metrics" else 404
        phrase = HTTPStatus(status).phrase
        if status == 200:
            fold_ended_processes()
            body, kind = render(CeleryWorkerUp()), CONTENT_TYPE_LATEST
        else:
            body, kind = phrase.encode(), "text/plain"
        headers = [("Content-Type", kind), ("Cache-Control", "no-store")]
        start_response(f"{status} {phrase}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def start_series_at_zero() -> None:
    """A stuck-task counter per task of the app (not Celery's own), at 0 from the start.

    A counter first seen at 1 looks unchanged to increase(): the alert on it would miss
    the first stuck run.
    """
    for name in current_app.tasks:
        if not name.startswith("celery."):
            CELERY_STUCK_TASKS.labels(name)


def start_exporter(**_: object) -> None:
    """Serve this worker's metrics; a busy port is logged, the worker runs on without."""
    start_series_at_zero()
    address, port = settings.METRICS_WORKER_ADDRESS, settings.METRICS_WORKER_PORT
    app = exporter_app(AccessPolicy.from_settings())
    try:
        server = make_server(address, port, app, _Server, handler_class=_QuietHandler)
    except OSError as exc:
        logger.error("Celery metrics exporter cannot listen on %s:%s: %s", address, port, exc)
        return
    threading.Thread(target=server.serve_forever, name="metrics-exporter", daemon=True).start()
    _exporter.append(server)
    logger.info("Celery metrics exporter on http://%s:%s/metrics", address, server.server_port)


def stop_exporter(**_: object) -> None:
    for server in _exporter:
        server.shutdown()
    _exporter.clear()


# Connected by monitoring/celery_signals.py.
RECEIVERS = (
    (signals.task_prerun, task_started),
    (signals.task_postrun, task_finished),
    (signals.task_failure, count_lost_worker),
    (signals.worker_init, start_exporter),
    (signals.worker_shutdown, stop_exporter),
    (signals.worker_process_shutdown, fold_own_files),
)
