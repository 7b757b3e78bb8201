"""Stuck Celery tasks as alerts through the channels (monitoring/stuck_tasks.py).

Importing this module (AlertingConfig.ready) subscribes alert_stuck_task to
on_stuck_task. The alert goes the way a Sentry alert goes, through
dispatch_alert, so each channel retries on its own; its fingerprint is per task
name, so PagerDuty keeps one incident for a task that sticks again and again.
"""

from __future__ import annotations

from django.conf import settings

from ..monitoring.stuck_tasks import StuckTask, on_stuck_task
from .alerts import Alert, Severity
from .tasks import dispatch_alert


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


def alert_stuck_task(stuck: StuckTask) -> None:
    dispatch_alert.delay(stuck_task_alert(stuck).to_dict())


if alert_stuck_task not in on_stuck_task:
    on_stuck_task.append(alert_stuck_task)
