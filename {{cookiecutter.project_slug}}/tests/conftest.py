"""Shared fixtures: subprocess helpers and a real Celery worker.

Tests use PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set (CI sets
them) and the embedded defaults (SQLite, local memory, eager Celery) otherwise.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from config.celery_app import app as celery_app
{%- if cookiecutter.use_sentry == "y" %}
from {{ cookiecutter.project_slug }}.alerting.channels import CHANNELS
{%- endif %}
from {{ cookiecutter.project_slug }}.monitoring.logs import make_formatter

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")


def pytest_configure(config: pytest.Config) -> None:
    """The suite's warning filters (pyproject.toml) for the processes it starts as well.

    Workers, beat, gunicorn and manage.py inherit PYTHONWARNINGS from this environment,
    so a warning raised there fails the test as one raised here does. Except
    ResourceWarning: a process reports its unclosed files and sockets as it exits, after
    the test has read its output (gunicorn's workers leave their listening socket to
    the interpreter); in this process they still fail the test.
    """
    filters = [*config.getini("filterwarnings"), "ignore::ResourceWarning"]
    os.environ["PYTHONWARNINGS"] = ",".join(filters)


def requires(*names: str) -> pytest.MarkDecorator:
    """Skip a test unless the named environment variables are set."""
    missing = [name for name in names if not os.environ.get(name)]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without service URLs, under local settings, plus overrides.

    Local settings are named rather than left to the `.env` file, which a fresh
    clone (CI) does not have.
    """
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    env.update(overrides)
    return env


def run_python(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run this Python with *args* in the project folder; output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_manage(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return run_python("manage.py", *args, env=env, timeout=timeout)


# Production settings that start (no service is contacted at import).
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "a-production-like-secret-key-that-is-long-enough-0123456789-abcdefghij",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ENVIRONMENT": "production",
}


def settings_values(env: dict[str, str], *expressions: str) -> list[str]:
    """Evaluate `s.<expression>` on the settings a fresh process loads with `env`."""
    values = ", ".join(f"s.{expression}" for expression in expressions)
    code = f"from django.conf import settings as s; print({values}, sep='\\n')"
    result = run_manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def free_port() -> int:
    """A loopback port nobody listens on right now (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]
{%- if cookiecutter.use_prometheus == "y" %}


# The test worker's Prometheus exporter listens here (tests/metrics/ scrapes it).
WORKER_METRICS_PORT = free_port()
{%- endif %}


def child_database_url() -> str:
    """DATABASE_URL of the database pytest-django created, for child processes."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def worker_queue(worker_id: str) -> str:
    """A queue of its own per xdist worker, so parallel sessions never steal tasks."""
    return f"tests-{worker_id}-{os.getpid()}"


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup, django_db_blocker, worker_queue: str
) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process on Redis, consuming this session's queue.

    Tests using it need committed data: mark them django_db(transaction=True).
    """
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    with running_celery_worker(worker_queue) as process:
        yield process
{%- if cookiecutter.use_sentry == "y" %}


def worker_queues(queue: str) -> list[str]:
    """`queue` and its alert channels' queues (named so by config/settings/test.py)."""
    return [queue, *(f"{queue}-alerts.{name}" for name in CHANNELS)]


def queue_settings(queue: str) -> dict[str, str]:
    """What sends this process's alert deliveries to the worker of `queue`."""
    return {"ALERT_QUEUE_PREFIX": f"{queue}-alerts."}
{%- else %}


def worker_queues(queue: str) -> list[str]:
    return [queue]


def queue_settings(queue: str) -> dict[str, str]:
    return {}
{%- endif %}


def worker_log_path(queue: str) -> Path:
    return PROJECT_DIR / f".pytest-worker-{queue}.log"


@contextmanager
def running_celery_worker(
    queue: str, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Run a real worker on `queue` and send this process's tasks there until exit.

    `extra_env` reaches the worker only (channel URLs, ...).
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": child_database_url(),
        # Tasks the worker publishes (retries, fan-out) go through the broker, on `queue`.
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
{%- if cookiecutter.use_prometheus == "y" %}
        "METRICS_WORKER_ADDRESS": "127.0.0.1",
        "METRICS_WORKER_PORT": str(WORKER_METRICS_PORT),
{%- endif %}
        **(extra_env or {}),
    }
    log_path = worker_log_path(queue)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config.celery_app", "worker",
                "--pool=solo", "--concurrency=1", "-Q", ",".join(worker_queues(queue)),
                "--hostname", f"{queue}@%h", "--without-mingle", "--without-gossip",
            ],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        _wait_for_worker(process, queue, log_path)
        with override_settings(**queue_settings(queue)):
            yield process
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log_path.unlink(missing_ok=True)


@pytest.fixture
def celery_worker_log(celery_worker: subprocess.Popen, worker_queue: str) -> Path:
    """The real worker's stdout and stderr, for tests reading its log lines."""
    return worker_log_path(worker_queue)


@pytest.fixture
def inline_tasks(monkeypatch):
    """Tasks run in the test process, even after a session worker switched that off."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def _wait_for_worker(process: subprocess.Popen, queue: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"celery worker exited early:\n{log_path.read_text()}")
        replies = celery_app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=1)
        if replies:
            return
    process.kill()
    pytest.fail(f"celery worker did not answer within 60 s:\n{log_path.read_text()}")


# --- Log capture (monitoring/logs.py) -------------------------------------------


class LogCapture:
    """Lines rendered by the project's JSON formatter while the fixture is active."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return parse_json_lines(self.text)


def parse_json_lines(text: str) -> list[dict]:
    """Every non-empty line of *text* as a JSON object (fails on any other line)."""
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"log line is not JSON: {line!r}")
        assert isinstance(record, dict), line
        records.append(record)
    return records


@pytest.fixture
def log_capture() -> Iterator[LogCapture]:
    """Root-logger output through the project's JSON formatter, in memory."""
    capture = LogCapture()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(make_formatter("json", settings.ENVIRONMENT, settings.RELEASE_VERSION))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield capture
    finally:
        root.removeHandler(handler)
