"""gunicorn settings: `gunicorn -c gunicorn.conf.py config.wsgi`.

Command-line flags and GUNICORN_CMD_ARGS override these; WEB_CONCURRENCY sets the
number of worker processes.

Settings: the same module as every other entry point (config/boot.py), loaded
here in the master, so a missing production variable stops gunicorn at once.

Logging: gunicorn's own messages (boot, worker exits, timeouts) go through the
settings' LOGGING (monitoring/logs.py), so gunicorn and the app write one format:
with LOG_FORMAT=json every line is one JSON object on stdout. gunicorn's access log
is off: RequestContextMiddleware writes the one access line per request, with
the request id and the duration seen by Django; a second line from gunicorn
would double the log volume and could not carry the request id.
"""

from __future__ import annotations

import os
{%- if cookiecutter.use_prometheus == "y" %}
import shutil
import tempfile
from pathlib import Path
{%- endif %}
from typing import TYPE_CHECKING, Any

from django.conf import settings
from gunicorn.glogging import Logger

from config.boot import use_default_settings

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from datetime import timedelta

    from gunicorn.arbiter import Arbiter
    from gunicorn.http.message import Request
    from gunicorn.http.wsgi import Response
    from gunicorn.workers.base import Worker

wsgi_app = "config.wsgi:application"
# GUNICORN_BIND, else $PORT (set by Procfile platforms such as Heroku), else 8000.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT') or 8000}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A request running longer than `timeout` seconds gets its worker killed and replaced.
# On SIGTERM, requests in flight get `graceful_timeout` seconds to finish: keep the
# platform's stop timeout above it (40 s in deploy/). Workers are replaced after
# max_requests (plus jitter, so they don't all restart at once) to bound slow leaks.
timeout = 30
graceful_timeout = 30
max_requests = 1000
max_requests_jitter = 100
# gunicorn >= 25.1 opens a control socket in $XDG_RUNTIME_DIR or ~/.gunicorn, one path
# shared by every gunicorn of the user; nothing here uses it (older versions ignore this).
control_socket_disable = True

use_default_settings()
logconfig_dict = settings.LOGGING

# Liveness from the master, on a port of its own, for probes that must not wait behind
# slow or hung requests (monitoring/liveness_listener.py): GUNICORN_LIVENESS_BIND, e.g.
# 0.0.0.0:8001 (docs/health.md); no listener while unset.
liveness_bind = os.environ.get("GUNICORN_LIVENESS_BIND", "")


def when_ready(server: Arbiter) -> None:
    if liveness_bind:
        from {{ cookiecutter.project_slug }}.monitoring.liveness_listener import (
            start_liveness_listener,
        )

        start_liveness_listener(server, liveness_bind)


# On SIGTERM, connections already waiting in the listen backlog get a 503 with
# Retry-After from the exiting workers instead of a reset (monitoring/backlog_refusal.py).
def post_worker_init(worker: Worker) -> None:
    from {{ cookiecutter.project_slug }}.monitoring.backlog_refusal import note_shutdown_signal

    note_shutdown_signal(worker)


def worker_exit(server: Arbiter, worker: Worker) -> None:
    from {{ cookiecutter.project_slug }}.monitoring.backlog_refusal import refuse_backlog

    refuse_backlog(worker)


class NoAccessLogLogger(Logger):
    """gunicorn's logger without the access log (see above)."""

    access_log_enabled = False

    def access(
        self,
        resp: Response,
        req: Request,
        environ: MutableMapping[str, Any],
        request_time: timedelta,
    ) -> None:
        return None


logger_class = NoAccessLogLogger
{%- if cookiecutter.use_prometheus == "y" %}

# --- Prometheus metrics (multiprocess mode) --------------------------------------------
# Each worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR; /metrics, served by
# any worker, adds them all up. The variable must be set before a worker imports
# prometheus-client, so it is set here, in the master. Give each gunicorn its own folder.
_created_metrics_folder = ""
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _created_metrics_folder = tempfile.mkdtemp(prefix="gunicorn-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_folder


def on_starting(server: Arbiter) -> None:
    """Files left by an earlier run would be counted again: start from an empty folder."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server: Arbiter, worker: Worker) -> None:
    """A worker ended (recycled, timed out or killed): drop its in-flight gauge and fold its
    counters and histograms into the totals, so a scrape reads one file per metric type
    for all dead workers, not one per recycle (docs/metrics.md)."""
    from {{ cookiecutter.project_slug }}.monitoring.metrics._multiprocess_files import (
        process_ended,
    )

    # int(): types-gunicorn declares pid a str (a worker's "[booting]" before it forks).
    process_ended(os.environ["PROMETHEUS_MULTIPROC_DIR"], int(worker.pid))


def on_exit(server: Arbiter) -> None:
    if _created_metrics_folder:
        shutil.rmtree(_created_metrics_folder, ignore_errors=True)
{%- endif %}
