"""Stuck and missed Celery tasks as Sentry warning events (hooks added by startup.py).

One issue per task name or beat entry (the fingerprint), one event per report;
the ids are tags, as on the task's own events.
"""

from __future__ import annotations

import sentry_sdk

from ..missed_beats import MissedBeat
from ..stuck_tasks import StuckTask


def report_stuck_task(stuck: StuckTask) -> None:
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("task_name", stuck.task_name)
        scope.set_tag("task_id", stuck.task_id)
        if stuck.request_id:
            scope.set_tag("request_id", stuck.request_id)
        scope.set_context(
            "stuck_task",
            {
                "running_s": round(stuck.running_seconds),
                "threshold_s": round(stuck.threshold_seconds),
                "hostname": stuck.hostname,
            },
        )
        scope.fingerprint = ["celery-stuck-task", stuck.task_name]
        scope.capture_message(
            f"Celery task {stuck.task_name} stuck: running for {stuck.running_seconds:.0f} s",
            level="warning",
        )


def report_missed_beat(missed: MissedBeat) -> None:
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("task_name", missed.task)
        scope.set_tag("beat_entry", missed.entry)
        scope.set_context("missed_beat", {"overdue_s": round(missed.overdue_seconds)})
        scope.fingerprint = ["celery-missed-beat", missed.entry]
        scope.capture_message(
            f"Periodic task {missed.entry} missed: due {missed.overdue_seconds:.0f} s ago",
            level="warning",
        )
