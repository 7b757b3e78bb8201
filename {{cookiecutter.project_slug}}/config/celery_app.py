"""The Celery application: `celery -A config.celery_app worker` (or `beat`)."""

{% if cookiecutter.use_prometheus == "y" -%}
import atexit
import os
import shutil
import tempfile

{% endif -%}
from celery import Celery{% if cookiecutter.use_prometheus == "y" %}, signals{% endif %}

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
