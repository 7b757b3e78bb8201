"""gunicorn settings: `gunicorn -c gunicorn.conf.py config.wsgi`.

Command-line flags and GUNICORN_CMD_ARGS override these; WEB_CONCURRENCY sets the
number of worker processes.
"""

import os
{%- if cookiecutter.use_prometheus == "y" %}
import shutil
import tempfile
from pathlib import Path
{%- endif %}

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
{%- if cookiecutter.use_prometheus == "y" %}

# --- Prometheus metrics (multiprocess mode) --------------------------------------------
# Each worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR; /metrics, served by
# any worker, adds them all up. The variable must be set before a worker imports
# prometheus-client, so it is set here, in the master. Give each gunicorn its own folder.
_created_metrics_folder = ""
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _created_metrics_folder = tempfile.mkdtemp(prefix="gunicorn-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_folder


def on_starting(server):
    """Files left by an earlier run would be counted again: start from an empty folder."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """Drop a dead worker's in-flight gauge; its counters stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _created_metrics_folder:
        shutil.rmtree(_created_metrics_folder, ignore_errors=True)
{%- endif %}
