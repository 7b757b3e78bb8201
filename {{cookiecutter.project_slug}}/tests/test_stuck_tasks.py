"""Tasks running far past their expected time are reported once, by a real prefork worker."""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery.exceptions import AlwaysEagerIgnored

from config.celery_app import app as celery_app
from {{ cookiecutter.project_slug }}.monitoring.stuck_tasks import threshold_seconds

from .conftest import clean_env, parse_json_lines, requires, worker_queues
from .support.celery_processes import celery_process, wait_until

FACTOR = 5  # CELERY_STUCK_TASK_FACTOR for the worker here: nap's threshold is 1 s
NAP = "tests.support.slow_tasks.nap"
ONCE = "tests.support.slow_tasks.runs_at_most_once"
IGNORE_THE_SOFT_LIMIT = "tests.support.slow_tasks.ignore_the_soft_limit"
STUCK_LOGGER = "{{ cookiecutter.project_slug }}.monitoring.stuck_tasks"
{%- if cookiecutter.use_sentry == "y" %}
# Whatever a developer's .env says, the workers here report to nobody.
QUIET = {"SENTRY_DSN": "", "SLACK_WEBHOOK_URL": "", "PAGERDUTY_ROUTING_KEY": "", "ALERT_EMAILS": ""}
{%- else %}
QUIET: dict[str, str] = {}
{%- endif %}


@pytest.mark.parametrize(
    ("task", "time_limits", "default_soft", "expected"),
    [
        (SimpleNamespace(expected_runtime=2, soft_time_limit=None), None, 240, 2 * FACTOR),
        (SimpleNamespace(soft_time_limit=30), (None, None), 240, 30),
        # The message's limit (apply_async(soft_time_limit=...)) wins over the task's.
        (SimpleNamespace(soft_time_limit=30), (5, 10), 240, 5),
        (SimpleNamespace(), (None, None), 240, 240),
        (SimpleNamespace(), (None, None), None, None),
    ],
)
def test_threshold(settings, task, time_limits, default_soft, expected):
    settings.CELERY_STUCK_TASK_FACTOR = FACTOR
    assert threshold_seconds(task, time_limits, default_soft) == expected


@dataclass
class Worker:
    queue: str
    log: Path
    main_pid: int

    def send(self, name: str, *args: object, request_id: str | None = None) -> str:
        headers = {"request_id": request_id} if request_id else {}
        with warnings.catch_warnings():  # test settings run tasks eagerly; this one is sent
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            return celery_app.send_task(name, args, queue=self.queue, headers=headers).id

    def lines(self) -> list[dict]:
        return parse_json_lines(self.log.read_text())

    def stuck_lines(self, task_id: str) -> list[dict]:
        return [
            line for line in self.lines()
            if line["logger"] == STUCK_LOGGER and line.get("task_id") == task_id
        ]  # fmt: skip

    def wait_until_finished(self, task_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(
                line["logger"] == "celery.app.trace" and line.get("task_id") == task_id
                for line in self.lines()
            ):
                return
            time.sleep(0.1)
        pytest.fail(f"task {task_id} did not finish within {timeout} s:\n{self.log.read_text()}")


@contextmanager
def stuck_task_worker(folder: Path, **env: str) -> Iterator[Worker]:
    """A prefork worker with short stuck-task thresholds; `env` adds to its environment."""
    queue = f"stuck-{os.getpid()}-{time.monotonic_ns()}"
    log = folder / "worker.log"
    variables = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_TASK_DEFAULT_QUEUE": queue,  # tasks the worker itself sends come back to it
        "CELERY_STUCK_TASK_FACTOR": str(FACTOR),
        "CELERY_STUCK_TASK_CHECK_INTERVAL": "0.1",
        "CELERY_PROBE_DIR": str(folder / "probes"),
        "METRICS_WORKER_PORT": "0",
        **QUIET,
    }
    args = [
        *("worker", "--pool=prefork", "--concurrency=2", "-Q", ",".join(worker_queues(queue))),
        *("-I", "tests.support.slow_tasks", "--without-mingle", "--without-gossip"),
    ]
    with celery_process(args, log, clean_env(**{**variables, **env})) as process:
        started = lambda: process.poll() is not None or "ready." in log.read_text()  # noqa: E731
        wait_until(started, 60, "the worker's start", log)
        assert process.poll() is None, log.read_text()
        yield Worker(queue, log, process.pid)


@pytest.fixture
def worker(tmp_path) -> Iterator[Worker]:
    with stuck_task_worker(tmp_path) as running:
        yield running


@requires("REDIS_URL")
def test_a_task_past_its_expected_runtime_is_reported_once(worker):
    stuck = worker.send(NAP, 2.5, request_id="stuck-req-1")
    healthy = worker.send(NAP, 0.3)
    worker.wait_until_finished(stuck)
    worker.wait_until_finished(healthy)
    # Checked every 0.1 s for the 1.5 s it ran past 1 s: one report.
    [line] = worker.stuck_lines(stuck)
    assert line["level"] == "warning"
    assert line["message"].startswith(f"Task {NAP}[{stuck}] stuck: running for ")
    assert (line["task_name"], line["request_id"]) == (NAP, "stuck-req-1")
    assert line["threshold_s"] == 1.0
    assert line["threshold_s"] <= line["running_s"] <= 2.5
    assert worker.stuck_lines(healthy) == []


@requires("REDIS_URL")
def test_a_task_that_swallows_its_soft_time_limit_is_reported(worker):
    task_id = worker.send(IGNORE_THE_SOFT_LIMIT, 2.0)
    worker.wait_until_finished(task_id)
    [line] = worker.stuck_lines(task_id)
    assert line["threshold_s"] == 0.5
    assert "request_id" not in line


def kill_pool_processes(worker: Worker) -> None:
    """kill -9 the worker's pool processes (children of its main process), then wait for
    the worker to say the task's process was lost."""
    main = worker.main_pid
    for pid in Path(f"/proc/{main}/task/{main}/children").read_text().split():
        os.kill(int(pid), signal.SIGKILL)  # the busy one and the idle one
    lost = lambda: any("WorkerLostError" in line["message"] for line in worker.lines())  # noqa: E731
    wait_until(lost, 30, "WorkerLostError", worker.log)


@requires("REDIS_URL")
def test_a_pool_process_killed_under_a_task_is_reported_in_json(worker, tmp_path):
    marker = tmp_path / "once"
    worker.send(ONCE, str(marker), 60)
    wait_until(marker.exists, 30, "the task's start", worker.log)
    kill_pool_processes(worker)
    # Every line parses (lines() fails on any other), billiard's notice among them.
    [exited] = [line for line in worker.lines() if line["logger"] == "multiprocessing"][:1]
    assert exited["level"] == "error" and "exited with 'signal 9 (SIGKILL)'" in exited["message"]
