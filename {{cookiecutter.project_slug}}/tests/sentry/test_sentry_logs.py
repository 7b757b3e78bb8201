"""Sentry Logs, and one trace id from the JSON log lines to what reaches Sentry.

gunicorn and a real Celery worker run with SENTRY_LOGS_LEVEL=WARNING and JSON logs
written to files; EnvelopeSink (a loopback ingest endpoint) receives the envelopes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import PROJECT_DIR, _wait_for_worker, child_database_url, run_python
from ..support.sentry_stubs import EnvelopeSink
from .test_sentry import path_of, request, sentry_env, settle, stub_views_server, url_path

LOG_SECRETS = ("LOG-SECRET-20", "LOG-SECRET-21", "LOG-SECRET-22")
# In log items whatever PII allows (events may carry it in breadcrumbs when it does).
LOG_EMAIL = "ada.log@example.com"
TASK_NAME = "{{ cookiecutter.project_slug }}.orders.tasks.process_order"


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def wait_for_lines(
    path: Path, match: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> list[dict[str, Any]]:
    """The JSON lines of `path` that `match`, once there is one (a process writes them
    beside sending its envelopes, not necessarily first)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in json_lines(path) if match(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def attribute(log: dict[str, Any], name: str) -> Any:
    return log["attributes"].get(name, {}).get("value")


def trace_id(payload: dict[str, Any]) -> str:
    return payload["contexts"]["trace"]["trace_id"]


def wait_for_logs(
    sink: EnvelopeSink, match: Callable[[dict[str, Any]], bool], count: int, timeout: float = 15
) -> list[dict[str, Any]]:
    """The log items that `match`, once `count` of them are in (the SDK sends every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [log for log in sink.log_items() if match(log)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture(scope="module")
def sink() -> Iterator[EnvelopeSink]:
    with EnvelopeSink() as receiver:
        yield receiver
        assert receiver.errors == []


@pytest.fixture(scope="module")
def queue() -> str:
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    return f"sentry-logs-{os.getpid()}"


@pytest.fixture(scope="module")
def env(sink: EnvelopeSink, queue: str, django_db_setup) -> dict[str, str]:
    """What gunicorn and the worker share: Sentry Logs on, JSON lines, tasks on `queue`."""
    return sentry_env(
        sink,
        SENTRY_LOGS_LEVEL="WARNING",
        LOG_FORMAT="json",
        REDIS_URL=os.environ["REDIS_URL"],
        DATABASE_URL=child_database_url(),
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=queue,
    )


@pytest.fixture(scope="module")
def web_log() -> Iterator[Path]:
    path = PROJECT_DIR / f".pytest-sentry-logs-web-{os.getpid()}.log"
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def worker_log(queue: str, env: dict[str, str]) -> Iterator[Path]:
    """A real worker on `queue`; yields the file its JSON lines go to."""
    path = PROJECT_DIR / f".pytest-sentry-logs-worker-{os.getpid()}.log"
    with open(path, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config.celery_app", "worker",
                "--pool=solo", "-Q", queue, "--hostname", f"{queue}@%h",
                "--without-mingle", "--without-gossip",
            ],
            cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_worker(process, queue, path)
        yield path
    finally:
        process.terminate()
        process.wait(timeout=15)
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def server(env: dict[str, str], web_log: Path) -> Iterator[tuple[str, int]]:
    """gunicorn serving the project and the stub views, its output in `web_log`."""
    with stub_views_server(env, web_log) as address:
        yield address


def test_warnings_reach_sentry_logs_scrubbed_and_in_the_request_trace(sink, server, web_log):
    sink.clear()
    headers = {"X-Request-ID": "logs-rid-1"}
    assert request(server, "/stub/warn-boom/", headers=headers)[0] == 500
    settle(sink, server, "logs")
    mine = lambda log: attribute(log, "request_id") == "logs-rid-1"  # noqa: E731
    logs = wait_for_logs(sink, lambda log: mine(log) and log["level"] == "warn", count=2)
    by_body = {log["body"]: log for log in logs}
    assert set(by_body) == {"card declined, token=[Filtered]", "structlog warning"}
    stdlib_log = by_body["card declined, token=[Filtered]"]
    structlog_log = by_body["structlog warning"]
    assert attribute(stdlib_log, "password") == "[Filtered]"
    assert attribute(stdlib_log, "order") == 7
    assert attribute(structlog_log, "api_key") == "[Filtered]"
    assert attribute(structlog_log, "contact") == "[Filtered]"
    assert attribute(structlog_log, "logger.name") == "tests.support.sentry_stubs"
    # Only from the level up: the info line is in the JSON log, not in Sentry.
    assert "below the level: never sent" not in [log["body"] for log in sink.log_items()]
    raw = sink.raw().decode()
    assert [secret for secret in LOG_SECRETS if secret in raw] == []
    assert LOG_EMAIL not in json.dumps(sink.log_items())

    # One trace: the log items, the JSON lines, the error event and the transaction.
    [line] = [
        line
        for line in json_lines(web_log)
        if line.get("request_id") == "logs-rid-1" and line["message"] == "structlog warning"
    ]
    [event] = [e for e in sink.events() if url_path(e) == "stub/warn-boom/"]
    [transaction] = [s for s in sink.segments() if path_of(s.url) == "stub/warn-boom/"]
    assert {log["trace_id"] for log in logs} == {line["trace_id"]}
    assert {attribute(log, "trace_id") for log in logs} == {line["trace_id"]}
    assert trace_id(event) == transaction.trace_id == line["trace_id"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_request_and_its_task_share_one_trace_in_log_lines_and_envelopes(
    sink, server, web_log, worker_log
):
    sink.clear()
    body = json.dumps({"amount": "2.00"}).encode()
    headers = {"X-Request-ID": "trace-rid-2", "Content-Type": "application/json"}
    assert request(server, "/orders/", method="POST", headers=headers, body=body)[0] == 201
    [task] = sink.wait_for_segments(lambda segment: segment.name == TASK_NAME, timeout=30)
    [web] = sink.wait_for_segments(lambda segment: path_of(segment.url) == "orders/")
    [access] = [
        line
        for line in json_lines(web_log)
        if line.get("request_id") == "trace-rid-2" and line["message"] == "request"
    ]
    task_id = task.tags["task_id"]

    def finished(line: dict[str, Any]) -> bool:
        return line.get("task_id") == task_id and line["logger"] == "celery.app.trace"

    assert wait_for_lines(worker_log, finished), worker_log.read_text()[-3000:]
    # The worker's "received" line comes before the task binds its ids: not among these.
    task_lines = [
        line
        for line in json_lines(worker_log)
        if line.get("task_id") == task_id and line["logger"] != "celery.worker.strategy"
    ]
    assert {line["trace_id"] for line in task_lines} == {access["trace_id"]}
    assert web.trace_id == task.trace_id == access["trace_id"]
    assert {line.get("request_id") for line in task_lines} == {"trace-rid-2"}


@pytest.mark.worker
def test_a_worker_sends_its_log_records_with_the_task_ids(sink, worker_log, queue, monkeypatch):
    """The handler outlives the worker's logging set-up, which Celery runs after Django's."""
    from {{ cookiecutter.project_slug }}.orders.tasks import process_order

    monkeypatch.setitem(process_order.app.conf, "task_always_eager", False)
    sink.clear()
    # A missing order: the worker logs the task's failure (celery.app.trace, error).
    result = process_order.app.send_task(TASK_NAME, args=[987654321], queue=queue)
    [log] = wait_for_logs(sink, lambda log: attribute(log, "task_id") == result.id, count=1)
    assert log["level"] == "error"
    assert attribute(log, "logger.name") == "celery.app.trace"
    assert attribute(log, "task_name") == TASK_NAME
    assert attribute(log, "exception.type") == "DoesNotExist"
    [line] = [
        line
        for line in json_lines(worker_log)
        if line.get("task_id") == result.id and line["logger"] == "celery.app.trace"
    ]
    assert log["trace_id"] == line["trace_id"]


LOGS_SWITCH_SCRIPT = """
import logging

import django

django.setup()
import sentry_sdk

logging.getLogger("switch").warning("a warning for Sentry Logs")
sentry_sdk.capture_message("marker")
sentry_sdk.flush(timeout=5)
"""


@pytest.mark.parametrize(("level", "sent"), [("", []), ("WARNING", ["a warning for Sentry Logs"])])
def test_logs_are_sent_only_with_sentry_logs_level(sink, level, sent):
    sink.clear()
    result = run_python("-c", LOGS_SWITCH_SCRIPT, env=sentry_env(sink, SENTRY_LOGS_LEVEL=level))
    assert result.returncode == 0, result.stderr
    # flush() sent everything: the marker event, and the logs when they are on.
    assert [e["message"] for e in sink.events()] == ["marker"]
    assert [log["body"] for log in sink.log_items()] == sent


@pytest.mark.parametrize("value", ["LOUD", "20"])
def test_a_bad_sentry_logs_level_stops_startup(sink, value):
    result = run_python("manage.py", "check", env=sentry_env(sink, SENTRY_LOGS_LEVEL=value))
    assert result.returncode != 0
    assert f"SENTRY_LOGS_LEVEL is '{value}'; use one of: DEBUG, INFO" in result.stderr
