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
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery import signals
from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import mark_process_dead

from ..stuck_tasks import StuckTask
from ._multiprocess_files import fold_process_files, pids_with_files
from .access import AccessPolicy
from .exposition import CeleryWorkerUp, render
from .instruments import CELERY_STUCK_TASKS, CELERY_TASK_RUNTIME, CELERY_TASKS

logger = logging.getLogger(__name__)

STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}
_started: dict[str, float] = {}
_exporter: list[WSGIServer] = []


def task_started(task_id: str, task: Any, **_: object) -> None:
    _started[task_id] = time.perf_counter()
    CELERY_TASKS.labels(task.name, "started").inc()


def task_finished(task_id: str, task: Any, state: str | None = None, **_: object) -> None:
    start = _started.pop(task_id, None)
    if start is not None:
        CELERY_TASK_RUNTIME.labels(task.name).observe(time.perf_counter() - start)
    CELERY_TASKS.labels(task.name, STATES.get(state or "", str(state).lower())).inc()


def count_stuck_task(stuck: StuckTask) -> None:
    """A stuck_tasks.on_stuck_task hook, in the worker's main process."""
    CELERY_STUCK_TASKS.labels(stuck.task_name).inc()


# Files of ended children --------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process now has that pid
    return True


def _ended(folder: str, pid: int) -> None:
    """What gunicorn.conf.py's child_exit does for a web worker."""
    mark_process_dead(pid, folder)
    fold_process_files(folder, pid)


def fold_ended_processes() -> None:
    """Fold the files of every process in the metrics folder that is gone."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        for pid in pids_with_files(folder):
            if pid != os.getpid() and not _alive(pid):
                _ended(folder, pid)


def fold_own_files(**_: object) -> None:
    """worker_process_shutdown, in a child that is ending: it records nothing more."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        _ended(folder, os.getpid())


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


def start_exporter(**_: object) -> None:
    """Serve this worker's metrics; a busy port is logged, the worker runs on without."""
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
    (signals.worker_init, start_exporter),
    (signals.worker_shutdown, stop_exporter),
    (signals.worker_process_shutdown, fold_own_files),
)
