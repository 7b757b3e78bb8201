"""Every Celery signal receiver of the project, connected in one place, once.

MonitoringConfig.ready() calls connect_celery_signals() in every process that
sets Django up: the web at start, a worker or beat while it imports its modules,
which Celery does before it sends any of the signals below. Each receiver is
connected with a dispatch_uid, so a second call changes nothing.
{%- if cookiecutter.use_prometheus == "y" %}

The one receiver connected elsewhere is config/celery_app.py's metrics folder
(import_modules): it must run before Django starts, and so before
prometheus-client is imported.
{%- endif %}
"""

from __future__ import annotations

from collections.abc import Callable

from celery.utils.dispatch import Signal

from . import celery_process, correlation
{%- if cookiecutter.use_prometheus == "y" %}
from .metrics import worker as metrics_worker
{%- endif %}

Receivers = tuple[tuple[Signal, Callable[..., object]], ...]

RECEIVERS: Receivers = (
    *celery_process.RECEIVERS,
    *correlation.RECEIVERS,
{%- if cookiecutter.use_prometheus == "y" %}
    *metrics_worker.RECEIVERS,
{%- endif %}
)


def dispatch_uid(receiver: Callable[..., object]) -> str:
    return f"{receiver.__module__}.{receiver.__qualname__}"


def connect_celery_signals(receivers: Receivers = RECEIVERS) -> None:
    for signal, receiver in receivers:
        signal.connect(receiver, weak=False, dispatch_uid=dispatch_uid(receiver))
