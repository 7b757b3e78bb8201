"""End to end: the default render run the way production runs it, on this machine.

gunicorn (gunicorn.conf.py), a Celery worker and beat with production settings on
the real PostgreSQL and Redis, reporting to a real Sentry-compatible server
(Bugsink) and alerting a stub Slack server, everything on loopback. One test per
scenario, in file order, on one module-scoped stack: `make test` distributes whole
files (--dist loadfile), since xdist 3.8's groups do not keep a group on one worker
under pytest >= 9.2. The stack has a database and a Redis db of its own
(tests/services.py), made for this module and removed after it.

Test-only code (views and tasks that fail or take their time on purpose) lives in a
`config/e2e/` package written into the render; its settings module is production
plus those urls and tasks. The render is otherwise untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import shlex
import signal
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from ports import free_port, hanging_server
from venvs import venv_for

from .artifacts import procfile_lines
from .stack import Bugsink, Process, StubServer, http, wait_for

pytestmark = pytest.mark.e2e

RELEASE = f"e2e-{uuid.uuid4().hex[:8]}"
WEBHOOK_SECRET = "e2e-webhook-secret"
HEALTH_CHECK_TIMEOUT = 1.0
LOG_FIELDS = {"timestamp", "level", "logger", "message", "environment", "release"}
# Sent with the failing request and task; none of them may reach Bugsink.
SECRETS = {
    "bearer token": "e2e-bearer-token-0b7c",
    "session cookie": "e2e-session-cookie-9f1d",
    "e-mail": "alice.e2e@example.org",
    "password": "e2e-hunter2-password",
}

E2E_PACKAGE = {
    "__init__.py": '"""Test-only code of the end-to-end test."""\n',
    "production.py": """
        from config.settings.production import *  # noqa: F403

        ROOT_URLCONF = "config.e2e.urls"
        CELERY_IMPORTS = ["config.e2e.tasks"]
    """,
    "tasks.py": """
        import logging
        import time

        from celery import shared_task

        logger = logging.getLogger(__name__)


        @shared_task
        def fail_on_purpose(customer_email: str) -> None:
            raise RuntimeError("e2e task error")


        @shared_task(acks_late=True)
        def slow(seconds: float) -> str:
            logger.info("slow task started")
            time.sleep(seconds)
            logger.info("slow task finished")
            return "finished"
    """,
    "urls.py": """
        import logging
        import time

        from django.http import JsonResponse
        from django.urls import include, path
        from django.views.decorators.csrf import csrf_exempt

        from config.celery_app import app

        from .tasks import fail_on_purpose, slow

        logger = logging.getLogger(__name__)


        @csrf_exempt
        def view_error(request):
            request.body  # read like any view handling a form would
            raise RuntimeError("e2e view error")


        @csrf_exempt
        def task_error(request):
            result = fail_on_purpose.delay(request.POST["email"])
            return JsonResponse({"task_id": result.id}, status=202)


        @csrf_exempt
        def slow_task(request):
            return JsonResponse({"task_id": slow.delay(2.0).id}, status=202)


        def task_state(request, task_id):
            result = app.AsyncResult(task_id)
            return JsonResponse({"state": result.state, "result": str(result.result)})


        def slow_view(request):
            logger.info("slow view started")
            time.sleep(1)
            return JsonResponse({"status": "done"})


        urlpatterns = [
            path("e2e/view-error/", view_error),
            path("e2e/task-error/", task_error),
            path("e2e/slow-task/", slow_task),
            path("e2e/tasks/<str:task_id>/", task_state),
            path("e2e/slow/", slow_view),
            path("", include("config.urls")),
        ]
    """,
}


@dataclass
class Stack:
    project: Path
    venv: Path
    logs: Path
    env: dict[str, str]
    url: str = ""
    bugsink: Bugsink | None = None
    slack: StubServer | None = None
    web: Process | None = None
    worker: Process | None = None
    beat: Process | None = None

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def command(self, name: str, *extra: str) -> list[str]:
        """The Procfile's line for this process type, plus extra arguments, run as a
        Procfile platform runs it (bash -c; the venv is first on PATH)."""
        line = procfile_lines(self.project)[name]
        return ["bash", "-c", " ".join([line, *map(shlex.quote, extra)])]

    def process(
        self, name: str, command: list[str], dump_signal: int | None = None, **env: str
    ) -> Process:
        environment = {**self.env, **env}
        return Process(name, command, self.project, environment, self.logs, dump_signal).start()

    def gunicorn(self, name: str, port: int, **env: str) -> Process:
        return self.process(name, self.command("web"), GUNICORN_BIND=f"127.0.0.1:{port}", **env)


def records(process: Process) -> list[dict]:
    """The output lines that are JSON objects (the last test lists any other line)."""
    parsed = []
    for line in process.output_lines():
        with contextlib.suppress(ValueError):
            parsed.append(json.loads(line))
    return [record for record in parsed if isinstance(record, dict)]


def production_env(venv: Path, project: Path, service_env: dict[str, str]) -> dict[str, str]:
    return {
        **service_env,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(project),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "e2e-" + "0123456789abcdef" * 4,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "ENVIRONMENT": "production",
        "RELEASE_VERSION": RELEASE,
        "LOG_FORMAT": "json",
        "HEALTH_CHECK_TIMEOUT": str(HEALTH_CHECK_TIMEOUT),
        "SENTRY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SENTRY_TRACES_SAMPLE_RATE": "0",
        "SENTRY_PROFILES_SAMPLE_RATE": "0",
        "WEB_CONCURRENCY": "2",
        # The worker's Prometheus exporter: loopback, a port the OS picks.
        "METRICS_WORKER_ADDRESS": "127.0.0.1",
        "METRICS_WORKER_PORT": "0",
    }


def web_ready(url: str) -> bool:
    return http("GET", f"{url}/health/live/", timeout=2)[0] == 200


@pytest.fixture(scope="module")
def stack(cookies_session, tmp_path_factory, module_service_env) -> Iterator[Stack]:
    """One production-like stack for every test of this module, in file order: the
    shutdown test stops it, the last test reads everything it wrote."""
    project = Path(cookies_session.bake().project_path)
    for name, source in E2E_PACKAGE.items():
        target = project / "config" / "e2e" / name
        target.parent.mkdir(exist_ok=True)
        target.write_text(textwrap.dedent(source).lstrip())
    venv = venv_for(project)
    env = production_env(venv, project, module_service_env)
    stack = Stack(project, venv, tmp_path_factory.mktemp("e2e-logs"), env)
    with contextlib.ExitStack() as cleanup:
        # The release phase, with the real production settings, while Bugsink starts.
        release = stack.process("migrate", stack.command("release"))
        cleanup.callback(release.stop)
        stack.bugsink = Bugsink(tmp_path_factory.mktemp("bugsink")).start()
        cleanup.callback(stack.bugsink.stop)
        assert release.wait(120) == 0, release.describe()
        stack.slack = StubServer()
        cleanup.callback(stack.slack.stop)

        stack.env |= {
            "DJANGO_SETTINGS_MODULE": "config.e2e.production",
            "SENTRY_DSN": stack.bugsink.dsn,
            "SLACK_WEBHOOK_URL": stack.slack.url,
        }
        port = free_port()
        stack.url = f"http://127.0.0.1:{port}"
        stack.web = stack.gunicorn("web", port)
        cleanup.callback(stack.web.stop)
        stack.worker = stack.process(
            "worker", stack.command("worker", "-c", "2", "-n", "e2e@%h"), signal.SIGUSR1
        )
        cleanup.callback(stack.worker.stop)
        schedule = str(stack.logs / "celerybeat-schedule")
        stack.beat = stack.process("beat", stack.command("beat", "--schedule", schedule))
        cleanup.callback(stack.beat.stop)
        wait_for(lambda: web_ready(stack.url), 60, "gunicorn to answer")
        yield stack


# --- health ---------------------------------------------------------------------------


def test_health_endpoints_with_a_worker_running(stack: Stack) -> None:
    assert http("GET", f"{stack.url}/health/live/")[0] == 200
    status, _, body = http("GET", f"{stack.url}/health/ready/")
    assert status == 200, body
    assert json.loads(body)["status"] == "ready"

    def healthy():
        status, _, body = http("GET", f"{stack.url}/health/")
        answer = json.loads(body)
        return status == 200 and answer["status"] == "healthy" and answer

    # "healthy" needs the worker's answer to a ping: it may still be starting.
    answer = wait_for(healthy, 60, "/health/ to report healthy (worker running)", interval=1)
    assert answer["version"] == RELEASE
    assert answer["environment"] == "production"
    assert answer["checks"]["celery_workers"]["status"] == "ok"


def test_monitor_script_reports_ok(stack: Stack) -> None:
    result = subprocess.run(
        [stack.bin("python"), "scripts/monitor.py", "--check", "health", "--url", stack.url],
        cwd=stack.project, env=stack.env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK - healthy" in result.stdout, result.stdout


def test_readiness_flips_when_redis_hangs(stack: Stack) -> None:
    """A second web whose Redis accepts connections and never answers is not ready."""
    port = free_port()
    with hanging_server() as hanging_port:
        unreachable = f"redis://127.0.0.1:{hanging_port}/0"
        web = stack.gunicorn(
            "web-hung-redis", port,
            REDIS_URL=unreachable, CELERY_BROKER_URL=unreachable, WEB_CONCURRENCY="1",
            SENTRY_DSN="",
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: web_ready(url), 60, "the second gunicorn to answer")
            start = time.monotonic()
            status, _, body = http("GET", f"{url}/health/ready/", timeout=10)
            elapsed = time.monotonic() - start
            assert status == 503, body
            assert json.loads(body)["status"] == "not_ready"
            assert elapsed < HEALTH_CHECK_TIMEOUT + 0.5, f"answered after {elapsed:.2f} s"
        finally:
            exit_status = web.stop()
    assert exit_status == 0, web.describe()
    offenders = [line for line in web.output_lines() if not is_log_line(line)]
    assert not offenders, "\n".join(offenders)


# --- errors reach Bugsink, without secrets ---------------------------------------------


def tags_of(event: dict) -> dict[str, str]:
    tags = event.get("tags") or {}
    return dict(tags) if isinstance(tags, list) else tags


def exception_text(event: dict) -> str:
    values = (event.get("exception") or {}).get("values") or []
    return " ".join(f"{value.get('type')}: {value.get('value')}" for value in values)


def test_errors_reach_bugsink_without_secrets(stack: Stack) -> None:
    view_request_id = f"e2e-view-{uuid.uuid4().hex[:12]}"
    personal = {"email": SECRETS["e-mail"], "password": SECRETS["password"]}
    status, headers, _ = http(
        "POST",
        f"{stack.url}/e2e/view-error/?{urlencode(personal)}",
        json.dumps(personal).encode(),
        {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {SECRETS['bearer token']}",
            "Cookie": f"sessionid={SECRETS['session cookie']}",
            "X-Request-ID": view_request_id,
        },
    )
    assert status == 500
    assert headers["X-Request-ID"] == view_request_id
    task_request_id = f"e2e-task-{uuid.uuid4().hex[:12]}"
    status, _, _ = http(
        "POST",
        f"{stack.url}/e2e/task-error/",
        urlencode({"email": SECRETS["e-mail"]}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Request-ID": task_request_id},
    )
    assert status == 202

    def both_events():
        events = [event["data"] for event in stack.bugsink.events()]
        view = [e for e in events if "e2e view error" in exception_text(e)]
        task = [e for e in events if "e2e task error" in exception_text(e)]
        return view and task and (view[0], task[0])

    view_event, task_event = wait_for(both_events, 60, "both errors in Bugsink", interval=1)
    for event in (view_event, task_event):
        assert event["environment"] == "production"
        assert event["release"] == RELEASE
    assert tags_of(view_event)["request_id"] == view_request_id
    assert tags_of(task_event)["request_id"] == task_request_id
    assert tags_of(task_event).get("task_id")
    # The request was collected (so the check below means something), minus the secrets.
    request = view_event["request"]
    assert request["url"].endswith("/e2e/view-error/")
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["data"] and request["query_string"]

    stored = json.dumps([view_event, task_event])
    leaked = [name for name, value in SECRETS.items() if value in stored or quote(value) in stored]
    assert not leaked, f"{leaked} reached Bugsink:\n{json.dumps(view_event, indent=1)[:6000]}"
    issues = {issue["id"] for issue in stack.bugsink.issues()}
    assert len(issues) >= 2


# --- correlation, webhook path --------------------------------------------------------


def test_request_id_follows_an_order_into_the_worker(stack: Stack) -> None:
    request_id = f"e2e-order-{uuid.uuid4().hex[:12]}"
    status, _, body = http(
        "POST", f"{stack.url}/orders/", b'{"amount": "12.50"}',
        {"Content-Type": "application/json", "X-Request-ID": request_id},
    )  # fmt: skip
    assert status == 201, body
    order_id = json.loads(body)["id"]

    def task_lines():
        lines = records(stack.worker)
        task_ids = {line["task_id"] for line in lines if line.get("request_id") == request_id}
        mine = [line for line in lines if line.get("task_id") in task_ids]
        return any("succeeded" in line["message"] for line in mine) and mine

    lines = wait_for(task_lines, 30, "process_order to run with the request id")
    task_name = "my_project.orders.tasks.process_order"
    assert {line["task_name"] for line in lines} == {task_name}
    [task_id] = {line["task_id"] for line in lines}
    # Only the worker's "received" line lacks the request id: it is written when the
    # message arrives, before the task starts and binds it (docs/logging.md).
    without = [line for line in lines if "request_id" not in line]
    assert [(line["logger"], line["message"]) for line in without] == [
        ("celery.worker.strategy", f"Task {task_name}[{task_id}] received")
    ]
    assert {line["request_id"] for line in lines if "request_id" in line} == {request_id}
    assert "payment charged" in [line["message"] for line in lines]
    access = [
        line
        for line in records(stack.web)
        if line.get("path") == "/orders/" and line.get("request_id") == request_id
    ]
    assert [(line["method"], line["status"]) for line in access] == [("POST", 201)]
    status, _, body = http("GET", f"{stack.url}/orders/{order_id}/")
    assert json.loads(body)["status"] == "processed"


def test_signed_webhook_reaches_slack_through_the_worker(stack: Stack) -> None:
    title = f"e2e alert {uuid.uuid4().hex[:8]}"
    payload = {
        "action": "triggered",
        "data": {
            "event": {"issue_id": "42", "level": "error", "title": title, "project": 1},
            "triggered_rule": "e2e rule",
        },
    }
    body = json.dumps(payload).encode()
    status, _, answer = http(
        "POST",
        f"{stack.url}/webhooks/sentry/",
        body,
        {
            "Content-Type": "application/json",
            "Sentry-Hook-Resource": "event_alert",
            "Sentry-Hook-Timestamp": str(int(time.time())),
            "Sentry-Hook-Signature": hmac.new(
                WEBHOOK_SECRET.encode(), body, hashlib.sha256
            ).hexdigest(),
            "Request-ID": str(uuid.uuid4()),
        },
    )
    assert status == 202, answer

    def slack_message():
        texts = [json.loads(body).get("text", "") for _, _, body in stack.slack.received]
        return [text for text in texts if title in text]

    [text] = wait_for(slack_message, 30, "the alert at the stub Slack server")
    assert "WARNING" in text


# --- shutdown, and every line of output ----------------------------------------------


@dataclass
class Shutdown:
    worker_status: int
    slow_task: dict
    web_status: int
    slow_request: tuple[int, bytes]
    beat_status: int


def positions(process: Process, message: str, **fields: object) -> list[int]:
    """Indexes of the output records with this message and fields."""
    return [
        index
        for index, line in enumerate(records(process))
        if line["message"] == message and fields.items() <= line.items()
    ]


def position(process: Process, message: str, **fields: object) -> int:
    found = positions(process, message, **fields)
    assert found, f"{process.name} never logged {message!r} {fields}"
    return found[0]


def stop_during_in_flight_work(stack: Stack) -> Shutdown:
    """SIGTERM the worker while a task runs, then gunicorn while a request runs."""
    status, _, body = http("POST", f"{stack.url}/e2e/slow-task/", b"")
    assert status == 202, body
    task_id = json.loads(body)["task_id"]
    wait_for(lambda: positions(stack.worker, "slow task started", task_id=task_id), 30, "task")
    worker_status = stack.worker.stop(signal.SIGTERM, timeout=30)
    _, _, slow_task = http("GET", f"{stack.url}/e2e/tasks/{task_id}/")

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(http, "GET", f"{stack.url}/e2e/slow/", timeout=30)
        wait_for(lambda: positions(stack.web, "slow view started"), 10, "slow request", 0.05)
        web_status = stack.web.stop(signal.SIGTERM, timeout=30)
        status, _, body = answer.result(timeout=30)
    beat_status = stack.beat.stop(signal.SIGTERM, timeout=30)
    return Shutdown(worker_status, json.loads(slow_task), web_status, (status, body), beat_status)


def test_sigterm_lets_in_flight_work_finish(stack: Stack) -> None:
    shutdown = stop_during_in_flight_work(stack)
    assert position(stack.worker, "worker: warm shutdown") < position(
        stack.worker, "slow task finished"
    )
    assert shutdown.slow_task == {"state": "SUCCESS", "result": "finished"}
    assert shutdown.worker_status == 0, stack.worker.describe()

    assert position(stack.web, "Handling signal: term") < position(
        stack.web, "slow request", path="/e2e/slow/", status=200
    )
    assert shutdown.slow_request == (200, b'{"status": "done"}')
    assert shutdown.web_status == 0, stack.web.describe()
    assert shutdown.beat_status == 0, stack.beat.describe()


def is_log_line(line: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.keys() >= LOG_FIELDS


def test_every_output_line_is_a_json_log_record(stack: Stack) -> None:
    offenders, counts = [], {}
    for process in (stack.web, stack.worker, stack.beat):
        lines = process.output_lines()
        counts[process.name] = len(lines)
        offenders += [f"{process.name}: {line}" for line in lines if not is_log_line(line)]
    assert not offenders, "lines that are not JSON log records:\n" + "\n".join(offenders)
    assert all(counts.values()), counts
    lines = [line for process in (stack.web, stack.worker, stack.beat) for line in records(process)]
    assert {line["release"] for line in lines} == {RELEASE}
    assert {line["environment"] for line in lines} == {"production"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", line["timestamp"]) for line in lines)
    # The failing request and task carried secrets and an e-mail: the logs have none.
    output = "\n".join(line for p in (stack.web, stack.worker) for line in p.output_lines())
    leaked = [name for name, value in SECRETS.items() if value in output or quote(value) in output]
    assert not leaked, f"{leaked} in the logs"
