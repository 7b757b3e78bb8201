"""Stuck and missed Celery tasks as alerts through the channels.

Importing this module (AlertingConfig.ready) subscribes to on_stuck_task
(monitoring/stuck_tasks.py) and on_missed_beat (monitoring/missed_beats.py). The
alerts go the way a Sentry alert goes, into the outbox (outbox.py), so each channel
retries on its own; the fingerprint is per task name or beat entry, so PagerDuty
keeps one incident for the same problem coming back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from ..monitoring.hooks import subscribe
from ..monitoring.missed_beats import MissedBeat, on_missed_beat
from ..monitoring.stuck_tasks import StuckTask, on_stuck_task
from .alerts import Alert, Severity
from .outbox import record_alert


def stuck_task_alert(stuck: StuckTask) -> Alert:
    return Alert(
        id=f"celery-stuck-{stuck.task_id}",
        title=(
            f"Celery task {stuck.task_name} stuck on {stuck.hostname}: running for "
            f"{stuck.running_seconds:.0f} s (threshold {stuck.threshold_seconds:.0f} s)"
        ),
        severity=Severity.WARNING,
        environment=settings.ENVIRONMENT,
        fingerprint=f"celery-stuck:{stuck.task_name}",
    )


def missed_beat_alert(missed: MissedBeat) -> Alert:
    return Alert(
        id=f"celery-missed-{missed.entry}-{int(missed.due_at)}",
        title=(
            f"Periodic task {missed.entry} ({missed.task}) missed: due "
            f"{missed.overdue_seconds:.0f} s ago and not run (is beat running?)"
        ),
        severity=Severity.WARNING,
        environment=settings.ENVIRONMENT,
        fingerprint=f"celery-missed:{missed.entry}",
    )


def _record(alert: Alert) -> None:
    try:
        record_alert(alert, source="celery")
    finally:
        connection.close()  # the reporting threads are short-lived: don't leave theirs open


def alert_stuck_task(stuck: StuckTask) -> None:
    _record(stuck_task_alert(stuck))


def alert_missed_beat(missed: MissedBeat) -> None:
    _record(missed_beat_alert(missed))


subscribe(on_stuck_task, alert_stuck_task)
subscribe(on_missed_beat, alert_missed_beat)
