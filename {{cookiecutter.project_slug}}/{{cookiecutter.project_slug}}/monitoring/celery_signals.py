"""Every Celery signal receiver of the project, connected in one place, once.

MonitoringConfig.ready() calls connect_celery_signals() in every process that
sets Django up: the web at start, a worker or beat while it imports its modules,
which Celery does before it sends any of the signals below. Each receiver is
connected with a dispatch_uid, so a second call changes nothing. The worker's
consumer steps (probe files, stuck tasks, missed beats) and hooks are added here
too: not signals, but wiring.
{%- if cookiecutter.use_prometheus == "y" %}

The one receiver connected elsewhere is config/celery_app.py's metrics folder
(import_modules): it must run before Django starts, and so before
prometheus-client is imported.
{%- endif %}
"""

from __future__ import annotations

from collections.abc import Callable

from celery import current_app
from celery.utils.dispatch import Signal

from . import celery_probes, celery_process, correlation, missed_beats, stuck_tasks, task_timing
from ._kombu_internals import closed_transport_is_a_lost_connection
from .hooks import subscribe
{%- if cookiecutter.use_prometheus == "y" %}
from .metrics import worker as metrics_worker
{%- endif %}

Receivers = tuple[tuple[Signal, Callable[..., object]], ...]

RECEIVERS: Receivers = (
    *celery_probes.RECEIVERS,
    *celery_process.RECEIVERS,
    # Receivers run in this order: correlation's task_prerun starts the task's log
    # context afresh, then task_timing adds to it and measures the wait and runtime read after it.
    *correlation.RECEIVERS,
    *task_timing.RECEIVERS,
    *missed_beats.RECEIVERS,
{%- if cookiecutter.use_prometheus == "y" %}
    *metrics_worker.RECEIVERS,
{%- endif %}
)


# Steps of the worker's consumer (bootsteps), started once it consumes.
CONSUMER_STEPS = (
    celery_probes.WorkerProbeFiles,
    stuck_tasks.StuckTaskWatch,
    missed_beats.MissedBeatWatch,
)
{%- if cookiecutter.use_prometheus == "y" %}
# Told of each stuck task and missed periodic task; other integrations subscribe where
# they start.
STUCK_TASK_HOOKS = (metrics_worker.count_stuck_task,)
MISSED_BEAT_HOOKS = (metrics_worker.count_missed_beat,)
{%- else %}
STUCK_TASK_HOOKS: tuple[Callable[[stuck_tasks.StuckTask], None], ...] = ()
MISSED_BEAT_HOOKS: tuple[Callable[[missed_beats.MissedBeat], None], ...] = ()
{%- endif %}


def dispatch_uid(receiver: Callable[..., object]) -> str:
    return f"{receiver.__module__}.{receiver.__qualname__}"


def connect_celery_signals(receivers: Receivers = RECEIVERS) -> None:
    for signal, receiver in receivers:
        signal.connect(receiver, weak=False, dispatch_uid=dispatch_uid(receiver))
    # A worker must outlive a broker restart: one kombu defect turned into the error it
    # is (patched once; a second call changes nothing).
    closed_transport_is_a_lost_connection()
    # Not signals, but wired here too. A worker builds its consumer's steps after
    # Django's start-up, from this set (adding twice keeps one).
    current_app.steps["consumer"].update(CONSUMER_STEPS)
    for stuck_hook in STUCK_TASK_HOOKS:
        subscribe(stuck_tasks.on_stuck_task, stuck_hook)
    for beat_hook in MISSED_BEAT_HOOKS:
        subscribe(missed_beats.on_missed_beat, beat_hook)
