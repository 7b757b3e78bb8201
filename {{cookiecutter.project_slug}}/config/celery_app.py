"""The Celery application: `celery -A config.celery_app worker` (or `beat`)."""

{% if cookiecutter.use_prometheus == "y" -%}
import atexit
import os
import shutil
import tempfile

{% endif -%}
from celery import Celery, signals

# Connects the logging/correlation signal receivers in every process using the app.
import {{ cookiecutter.project_slug }}.monitoring.correlation  # noqa: F401
from config.boot import use_default_settings

use_default_settings()

{% if cookiecutter.use_prometheus == "y" %}
# --- Prometheus metrics ---------------------------------------------------------------
# A worker and its prefork children record metrics in files in one private folder, served
# by the worker's exporter (monitoring/metrics/worker.py). prometheus-client reads
# PROMETHEUS_MULTIPROC_DIR when it is imported, during Django's start-up, so the folder is
# set here: connected before the app below exists, this runs before its Django fix-up.
# (import_modules is sent by `celery worker`, `beat`, `shell` and `report` only.)
@signals.import_modules.connect
def _private_metrics_folder(**_: object) -> None:
    folder = tempfile.mkdtemp(prefix="celery-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


{% endif -%}
app = Celery("{{ cookiecutter.project_slug }}")
# Every CELERY_* Django setting configures the app (CELERY_BROKER_URL -> broker_url).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
@signals.beat_init.connect
def refuse_to_run_without_a_broker(**kwargs: object) -> None:
    """Without REDIS_URL there is no broker (settings: memory://): say so and stop.

    A worker or beat would otherwise run against an in-process queue nobody else sees.
    """
    if app.conf.broker_url.startswith("memory://"):
        raise SystemExit(
            "No broker configured: set REDIS_URL (or CELERY_BROKER_URL) to run a Celery "
            "worker or beat; without one, tasks run inline in the process that sends them."
        )
{%- if cookiecutter.use_sentry == "y" %}


@signals.celeryd_init.connect
@signals.beat_init.connect
def init_sentry_for_celery(**kwargs: object) -> None:
    """Workers and beat start Sentry before any task runs or is scheduled."""
    from {{ cookiecutter.project_slug }}.monitoring.sentry import init_sentry

    init_sentry()
{%- endif %}
