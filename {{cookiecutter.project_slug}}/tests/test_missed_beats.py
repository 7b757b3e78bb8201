"""Periodic tasks not run on time are seen by /health/ and reported once by the workers."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from celery import Celery, current_app
from celery.schedules import crontab
from django.core.cache import cache

from {{ cookiecutter.project_slug }}.monitoring.missed_beats import LAST_RUN_KEY, missed_beats

from .conftest import child_database_url, clean_env, parse_json_lines, requires
from .support.celery_processes import celery_process, wait_until

NOW = datetime(2026, 12, 2, 12, 0, 30, tzinfo=UTC).timestamp()
MISSED_LOGGER = "{{ cookiecutter.project_slug }}.monitoring.missed_beats"
NAP = "tests.support.slow_tasks.nap"


def app_with(schedule: object) -> tuple[Celery, str, str]:
    entry, task = f"entry-{uuid.uuid4().hex}", f"tests.task_{uuid.uuid4().hex}"
    app = Celery(set_as_current=False)
    app.conf.beat_schedule = {entry: {"task": task, "schedule": schedule}}
    return app, entry, task


@pytest.fixture(autouse=True)
def grace(settings):
    settings.CELERY_BEAT_GRACE = 2


def test_a_task_run_on_time_is_not_missed():
    app, _, task = app_with(10.0)
    cache.set(LAST_RUN_KEY.format(task=task), NOW - 11)  # due 1 s ago: within the grace
    assert missed_beats(app, NOW) == []


def test_a_task_overdue_past_the_grace_is_missed():
    app, entry, task = app_with(10.0)
    cache.set(LAST_RUN_KEY.format(task=task), NOW - 15)
    [missed] = missed_beats(app, NOW)
    assert (missed.entry, missed.task) == (entry, task)
    assert missed.overdue_seconds == pytest.approx(5, abs=0.5)
    assert missed.due_at == pytest.approx(NOW - 5, abs=0.5)


def test_a_crontab_entry_is_measured_from_its_last_due_time():
    app, _, task = app_with(crontab())  # every minute, on the minute
    cache.set(LAST_RUN_KEY.format(task=task), NOW - 300)  # last ran at 11:55:30
    [missed] = missed_beats(app, NOW)
    # Due at 11:56:00, 270 s before 12:00:30.
    assert missed.overdue_seconds == pytest.approx(270, abs=1)


def test_a_task_that_never_ran_counts_from_when_it_was_first_seen():
    app, _, _ = app_with(10.0)
    assert missed_beats(app, NOW) == []
    assert missed_beats(app, NOW + 11) == []
    assert len(missed_beats(app, NOW + 13)) == 1


@pytest.mark.django_db
def test_health_shows_a_missed_beat_as_a_warning(client, monkeypatch):
    app, entry, task = app_with(10.0)
    monkeypatch.setitem(current_app.conf, "beat_schedule", app.conf.beat_schedule)
    cache.set(LAST_RUN_KEY.format(task=task), time.time() - 60)
    body = client.get("/health/").json()
    assert body["checks"]["beat"]["status"] == "warning"
    assert body["checks"]["beat"]["message"] == f"missed: {entry}"
    assert body["status"] != "unhealthy"  # warning only
    cache.set(LAST_RUN_KEY.format(task=task), time.time())
    assert client.get("/health/").json()["checks"]["beat"]["status"] == "ok"


def lines(log: Path, logger: str) -> list[dict]:
    return [line for line in parse_json_lines(log.read_text()) if line["logger"] == logger]


def runs(log: Path) -> int:
    finished = lines(log, "celery.app.trace")
    return len([line for line in finished if "succeeded" in line["message"]])


@requires("REDIS_URL")
@pytest.mark.django_db(transaction=True)  # the report's subscribers may write rows: emptied after
def test_a_stopped_beat_is_reported_once_by_the_workers(tmp_path):
    entry, queue = f"beat-test-{uuid.uuid4().hex[:8]}", f"beat-{uuid.uuid4().hex[:8]}"
    env = clean_env(
        DJANGO_SETTINGS_MODULE="tests.support.beat_settings",
        DATABASE_URL=child_database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        BEAT_ENTRY=entry,
        BEAT_QUEUE=queue,
        CELERY_BEAT_GRACE="1",
        CELERY_BEAT_CHECK_INTERVAL="0.2",
        CELERY_BEAT_MAX_LOOP_INTERVAL="0.2",
        CELERY_PROBE_DIR=str(tmp_path / "probes"),
        METRICS_WORKER_PORT="0",
    )
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    cache.delete(LAST_RUN_KEY.format(task=NAP))  # runs are kept per task: start afresh
    worker_args = [
        *("worker", "--pool=prefork", "--concurrency=1", "-Q", queue),
        *("-I", "tests.support.slow_tasks", "--without-mingle", "--without-gossip"),
    ]
    beat_args = ["--quiet", "beat", "--schedule", str(tmp_path / "schedule")]
    with celery_process(worker_args, worker_log, env):
        with celery_process(beat_args, beat_log, env):
            wait_until(lambda: runs(worker_log) >= 3, 60, "three periodic runs", worker_log)
            assert lines(worker_log, MISSED_LOGGER) == []  # on time: nothing reported
        # Beat stopped: due 1 s after its last send, missed 1 s after that.
        wait_until(lambda: lines(worker_log, MISSED_LOGGER), 15, "the missed report", worker_log)
        time.sleep(2)  # checked ten more times
        [report] = lines(worker_log, MISSED_LOGGER)
    assert report["level"] == "warning"
    assert report["message"].startswith(f"Periodic task {entry} ({NAP}) missed")
    assert report["beat_entry"] == entry and report["overdue_s"] >= 1
