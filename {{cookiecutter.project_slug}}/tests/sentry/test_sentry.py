"""Sentry: what actually reaches an ingest endpoint (a real receiver on loopback).

The app runs under gunicorn and Celery runs a real worker, both with SENTRY_DSN
pointing at EnvelopeSink; assertions are on the decoded envelopes.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }}.monitoring.redaction import (
    FILTERED,
    Redactor,
)
from {{ cookiecutter.project_slug }}.monitoring.sentry.filters import (
    before_send,
    make_traces_sampler,
)
from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.orders.tasks import process_order

from ..conftest import (
    PROJECT_DIR,
    _wait_for_worker,
    child_database_url,
    clean_env,
    run_manage,
    run_python,
)
from ..support.loopback import stub_server
from ..support.sentry_stubs import EnvelopeSink

SLUG = "{{ cookiecutter.project_slug }}"
RELEASE = "test-release-42"
PII_ALLOWED = {{ "True" if cookiecutter.sentry_send_default_pii == "y" else "False" }}
SECRETS = {
    "query": "QS-SECRET-1",
    "authorization": "HDR-SECRET-2",
    "cookie": "COOKIE-SECRET-3",
    "api_key": "KEY-SECRET-4",
    "csrf": "CSRF-SECRET-5",
    "password": "BODY-SECRET-6",
    "nested": "BODY-SECRET-7",
    "form": "FORM-SECRET-8",
}
# The request middleware (monitoring/middleware.py) binds X-Request-ID for logs and Sentry.
HAS_REQUEST_MIDDLEWARE = importlib.util.find_spec(f"{SLUG}.monitoring.middleware") is not None
needs_request_middleware = pytest.mark.skipif(
    not HAS_REQUEST_MIDDLEWARE, reason="needs the request middleware (monitoring/middleware.py)"
)


def sentry_env(sink: EnvelopeSink, **overrides: str) -> dict[str, str]:
    variables = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "SENTRY_DSN": sink.dsn,
        "SENTRY_TRACES_SAMPLE_RATE": "1.0",
{%- if cookiecutter.use_sentry_profiling == "y" %}
        "SENTRY_PROFILES_SAMPLE_RATE": "1.0",
{%- endif %}
        "ENVIRONMENT": "staging",
        "RELEASE_VERSION": RELEASE,
    }
    return clean_env(**{**variables, **overrides})


@pytest.fixture(scope="module")
def sink() -> Iterator[EnvelopeSink]:
    with EnvelopeSink() as receiver:
        yield receiver


@contextmanager
def stub_views_server(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, int]]:
    """gunicorn serving the project plus tests.support.sentry_stubs views, on a socket we
    bound; its output goes to `log_path` (a file: a pipe nobody reads fills up and blocks
    the server's writes)."""
    listener = socket.create_server(("127.0.0.1", 0))
    address = listener.getsockname()
    with open(log_path, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}",
                "--workers", "1", "--graceful-timeout", "2",
                "tests.support.sentry_stubs:wsgi_app()",
            ],
            cwd=PROJECT_DIR, env=env, pass_fds=[listener.fileno()],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    listener.close()
    try:
        deadline = time.monotonic() + 30
        while request(address, "/health/live/")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(sink: EnvelopeSink, tmp_path_factory) -> Iterator[tuple[str, int]]:
    log_path = tmp_path_factory.mktemp("gunicorn") / "output.log"
    with stub_views_server(sentry_env(sink), log_path) as address:
        yield address


def request(
    address: tuple[str, int],
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


def url_path(payload: dict) -> str:
    return path_of(payload.get("request", {}).get("url", ""))


def path_of(url: str) -> str:
    return url.split("://", 1)[-1].partition("/")[2]


def settle(sink: EnvelopeSink, address: tuple[str, int], marker: str) -> None:
    """Wait until everything sent before a marker request has arrived.

    The SDK sends in order from one queue, so once the marker's transaction (2.x) or
    segment span (3.x) is in, so are the events and traces of every earlier request.
    """
    assert request(address, f"/stub/ok/?marker={marker}")[0] == 200
    found = sink.wait_for_segments(lambda segment: marker in segment.query_string)
    assert found, "the marker transaction never arrived"


def exception_types(event: dict) -> list[str]:
    return [value["type"] for value in event.get("exception", {}).get("values", [])]


# --- What arrives from the web process -----------------------------------------------


def test_error_event_has_environment_release_and_no_secrets(sink, server):
    sink.clear()
    headers = {
        "Authorization": f"Bearer {SECRETS['authorization']}",
        "Cookie": f"sessionid={SECRETS['cookie']}; csrftoken={SECRETS['cookie']}",
        "X-Api-Key": SECRETS["api_key"],
        "X-CSRFToken": SECRETS["csrf"],
        "Content-Type": "application/json",
    }
    body = {
        "password": SECRETS["password"],
        "items": [{"sku": "A-1", "refresh_token": SECRETS["nested"]}],
        "email": "ada@example.com",
    }
    status, _ = request(
        server, f"/stub/boom/?page=2&token={SECRETS['query']}", method="POST",
        headers=headers, body=json.dumps(body).encode(),
    )  # fmt: skip
    assert status == 500
    form = f"name=ada&password={SECRETS['form']}".encode()
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _ = request(server, "/stub/boom/", method="POST", headers=form_headers, body=form)
    assert status == 500
    settle(sink, server, "secrets")

    events = [e for e in sink.events() if url_path(e) == "stub/boom/"]
    assert len(events) == 2, [exception_types(e) for e in sink.events()]
    json_event, form_event = events
    assert json_event["environment"] == "staging"
    assert json_event["release"] == RELEASE
    assert exception_types(json_event) == ["RuntimeError"]
    # Collected, with the secrets masked rather than the data dropped.
    assert "page=2" in json_event["request"]["query_string"]
    assert json_event["request"]["data"]["items"][0]["sku"] == "A-1"
    assert form_event["request"]["data"]["name"] == "ada"
    raw = sink.raw().decode()
    leaked = [name for name, secret in SECRETS.items() if secret in raw]
    assert leaked == []
    if not PII_ALLOWED:
        assert "ada@example.com" not in raw


def test_unhandled_error_logged_and_raised_is_one_event(sink, server):
    sink.clear()
    assert request(server, "/stub/logged-boom/")[0] == 500
    settle(sink, server, "logged")
    events = [e for e in sink.events() if url_path(e) == "stub/logged-boom/"]
    assert [exception_types(e) for e in events] == [["ValueError"]]


def test_each_error_is_one_event(sink, server):
    sink.clear()
    for _ in range(3):
        assert request(server, "/stub/boom/")[0] == 500
    settle(sink, server, "three")
    assert len([e for e in sink.events() if url_path(e) == "stub/boom/"]) == 3


def test_x_request_id_is_a_tag_on_the_event_and_the_transaction(sink, server):
    sink.clear()
    assert request(server, "/stub/boom/", headers={"X-Request-ID": "e2e-rid-456"})[0] == 500
    settle(sink, server, "header")
    (event,) = [e for e in sink.events() if url_path(e) == "stub/boom/"]
    assert event["tags"]["request_id"] == "e2e-rid-456"
    (transaction,) = [s for s in sink.segments() if path_of(s.url) == "stub/boom/"]
    assert transaction.tags["request_id"] == "e2e-rid-456"
    # The next request has an id of its own, never the previous one.
    (marker,) = [s for s in sink.segments() if path_of(s.url) == "stub/ok/"]
    assert marker.tags.get("request_id") != "e2e-rid-456"


def test_user_is_identified_by_id_only(sink, server):
    sink.clear()
    assert request(server, "/stub/user-boom/?email=ada@example.com")[0] == 500
    settle(sink, server, "user")
    (event,) = [e for e in sink.events() if url_path(e) == "stub/user-boom/"]
    assert event["user"]["id"] == "42"
    if PII_ALLOWED:
        assert event["user"]["email"] == "ada@example.com"
    else:
        assert set(event["user"]) == {"id"}
        assert "ada@example.com" not in sink.raw().decode()


def test_an_url_encoded_address_under_any_key_stays_out_of_events(sink, server):
    sink.clear()
    assert request(server, "/stub/user-boom/?contact=ada.url%40example.com&page=2")[0] == 500
    settle(sink, server, "encoded")
    (event,) = [e for e in sink.events() if url_path(e) == "stub/user-boom/"]
    assert "page=2" in event["request"]["query_string"]
    raw = sink.raw().decode()
    if PII_ALLOWED:
        assert "ada.url%40example.com" in raw
    else:
        assert "ada.url%40example.com" not in raw and "ada.url@example.com" not in raw


def test_secrets_in_encoded_queries_and_error_messages_stay_out_of_events(sink, server):
    sink.clear()
    secret = "TEXT-SECRET-10"
    # A URL in the query string, encoded: its token is read decoded.
    query = "next=%2Faccount%2F%3Ftoken%3DNEXT-SECRET-11&page=2"
    assert request(server, f"/stub/text-boom/?{query}")[0] == 500
    settle(sink, server, "text")
    (event,) = [e for e in sink.events() if url_path(e) == "stub/text-boom/"]
    assert "page=2" in event["request"]["query_string"]
    assert "postgres://app:[Filtered]@db" in event["exception"]["values"][-1]["value"]
    raw = sink.raw().decode()
    for leak in (secret, "NEXT-SECRET-11", "4111 1111 1111 1111"):
        at = raw.find(leak)
        assert at < 0, raw[max(0, at - 200) : at + 20]


def test_a_token_in_the_path_stays_out_of_events_and_transactions(sink, server):
    sink.clear()
    assert request(server, "/stub/reset/MQ/c4k9x2-path-token-88/")[0] == 500
    settle(sink, server, "path")
    (event,) = [e for e in sink.events() if "/stub/reset/" in e["request"]["url"]]
    assert event["request"]["url"].endswith("/stub/reset/[Filtered]/[Filtered]/")
    (transaction,) = [s for s in sink.segments() if "/stub/reset/" in s.name]
    assert transaction.name == "/stub/reset/{uidb64}/{token}/"
    at = sink.raw().decode().find("path-token-88")
    assert at < 0, sink.raw().decode()[max(0, at - 200) : at + 20]


def test_capture_helpers_send_tags_context_user_and_breadcrumbs(sink, server):
    sink.clear()
    assert request(server, "/stub/helpers/")[0] == 200
    settle(sink, server, "helpers")
    (message,) = [e for e in sink.events() if e.get("message") == "helper message"]
    assert message["level"] == "warning"
    assert message["tags"]["feature"] == "payment"
    assert message["contexts"]["order"] == {"id": 7, "api_key": FILTERED}
    assert message["user"]["id"] == "42"
    if not PII_ALLOWED:
        assert message["user"] == {"id": "42"}
    assert "cart loaded" in [crumb["message"] for crumb in message["breadcrumbs"]["values"]]
    (error,) = [e for e in sink.events() if exception_types(e) == ["LookupError"]]
    # Each helper call has its own scope: the first call's tags and user do not leak.
    assert error["tags"]["feature"] == "refund"
    assert "user" not in error or "id" not in error["user"]


def test_ignored_errors_and_bad_hosts_send_nothing(sink, server):
    sink.clear()
    assert request(server, "/stub/forbidden/")[0] == 403
    assert request(server, "/stub/missing/")[0] == 404
    assert request(server, "/stub/ok/", headers={"Host": "evil.example"})[0] == 400
    settle(sink, server, "ignored")
    assert sink.events() == []


def test_health_requests_send_no_transactions(sink, server):
    sink.clear()
    for path in ("/health/live/", "/health/live/?verbose=1", "/health/"):
        request(server, path)
    settle(sink, server, "health")
    names = [segment.name for segment in sink.segments()]
    assert names == ["/stub/ok/"]
{%- if cookiecutter.use_sentry_profiling == "y" %}


def test_traced_requests_are_profiled(sink, server):
    sink.clear()
    assert request(server, "/stub/ok/")[0] == 200
    chunks = sink.wait_for("profile_chunk", timeout=20)
    assert chunks, "no profile chunk arrived"
    assert chunks[0]["release"] == RELEASE
{%- endif %}


# --- What arrives from a Celery worker ------------------------------------------------


@pytest.fixture(scope="module")
def sentry_worker(sink, django_db_setup, django_db_blocker) -> Iterator[str]:
    """A real worker with SENTRY_DSN set, on a queue of its own."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    queue = f"sentry-{os.getpid()}"
    env = {
        **sentry_env(sink),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DATABASE_URL": child_database_url(),
    }
    log_path = PROJECT_DIR / f".pytest-worker-{queue}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config.celery_app", "worker",
                "--pool=solo", "-Q", queue, "--hostname", f"{queue}@%h",
                "--without-mingle", "--without-gossip",
            ],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    conf = process_order.app.conf
    previous = (conf.task_always_eager, conf.task_default_queue)
    conf.task_always_eager = False
    conf.task_default_queue = queue
    try:
        _wait_for_worker(process, queue, log_path)
        yield queue
    finally:
        conf.task_always_eager, conf.task_default_queue = previous
        process.terminate()
        process.wait(timeout=15)
        log_path.unlink(missing_ok=True)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_sends_the_task_transaction_with_its_spans(sink, sentry_worker):
    sink.clear()
    order = Order.objects.create(amount="12.50", currency="EUR")
    assert process_order.delay(order.pk).get(timeout=30) == Order.Status.PROCESSED
    task_name = f"{SLUG}.orders.tasks.process_order"
    (transaction,) = sink.wait_for_segments(lambda segment: segment.name == task_name)
    assert transaction.environment == "staging"
    assert transaction.release == RELEASE
    assert transaction.tags["order_id"] == str(order.pk)
    spans = {span.name: span for span in transaction.children}
    assert spans["Fetch order"].op == "db.query"
    assert spans["Charge payment"].data["amount"] == "12.50"
    assert spans["Send confirmation"].op == "email"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_sends_one_event_per_failed_task(sink, sentry_worker):
    sink.clear()
    result = process_order.delay(987654321)
    with pytest.raises(Order.DoesNotExist):
        result.get(timeout=30)
    events = sink.wait_for("event", lambda e: e.get("tags", {}).get("celery_task_id") == result.id)
    assert [exception_types(e)[-1] for e in events] == ["Order.DoesNotExist"]
    assert events[0]["environment"] == "staging"
    # The task's transaction comes after its error: once it is in, nothing else is due.
    assert sink.wait_for_segments(lambda segment: segment.status != "ok")
    assert len([e for e in sink.events() if exception_types(e)]) == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_kwargs_named_password_or_token_stay_out_of_events(sink, sentry_worker):
    """Celery keeps a task's kwargs in its request (the `req` local of Celery's frames)."""
    sink.clear()
    kwargs = {"password": "KWARG-SECRET-13", "token": "KWARG-SECRET-14", "card": 4111111111111111}
    # send_task skips the signature check: the worker's call fails with the kwargs in hand.
    result = process_order.app.send_task(
        process_order.name, args=[1], kwargs=kwargs, queue=sentry_worker
    )
    with pytest.raises(TypeError):
        result.get(timeout=30)
    [event] = sink.wait_for("event", lambda e: e.get("tags", {}).get("celery_task_id") == result.id)
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert any("req" in frame.get("vars", {}) for frame in frames)
    raw = sink.raw().decode()
    for leak in (*kwargs.values(),):
        at = raw.find(str(leak))
        assert at < 0, raw[max(0, at - 200) : at + 20]


BEAT_SCRIPT = """
import os
from datetime import timedelta

from config.celery_app import app

app.conf.task_always_eager = False  # test settings run tasks inline; beat must publish
app.conf.beat_schedule = {
    "process-order": {
        "task": "{{ cookiecutter.project_slug }}.orders.tasks.process_order",
        # Sentry Crons takes whole minutes; a last run 2 minutes ago makes it due now.
        "schedule": 60.0,
        "last_run_at": app.now() - timedelta(minutes=2),
        "args": [int(os.environ["BEAT_ORDER_ID"])],
        "options": {"queue": os.environ["BEAT_QUEUE"]},
    }
}
app.start(["beat", "-s", os.environ["BEAT_SCHEDULE_FILE"], "--loglevel=WARNING"])
"""


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_scheduled_tasks_report_cron_check_ins(sink, sentry_worker, tmp_path):
    sink.clear()
    order = Order.objects.create(amount="3.00", currency="EUR")
    env = {
        **sentry_env(sink),
        "REDIS_URL": os.environ["REDIS_URL"],
        "BEAT_ORDER_ID": str(order.pk),
        "BEAT_QUEUE": sentry_worker,
        "BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"),
    }
    beat = subprocess.Popen(
        [sys.executable, "-c", BEAT_SCRIPT], cwd=PROJECT_DIR, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        done = sink.wait_for("check_in", lambda c: c["status"] == "ok", timeout=30)
    finally:
        beat.terminate()
        output = beat.communicate(timeout=15)[0]
    assert done, f"no check-in arrived; beat said:\n{output}"
    assert done[0]["monitor_slug"] == "process-order"
    assert done[0]["environment"] == "staging"
    statuses = {c["check_in_id"]: [] for c in sink.of_type("check_in")}
    for check_in in sink.of_type("check_in"):
        statuses[check_in["check_in_id"]].append(check_in["status"])
    assert statuses[done[0]["check_in_id"]] == ["in_progress", "ok"]


@needs_request_middleware
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_events_carry_the_request_and_task_ids(sink, sentry_worker, client):
    sink.clear()
    response = client.post(
        "/orders/", data={"amount": "1.00"}, content_type="application/json",
        headers={"X-Request-ID": "task-rid-789"},
    )  # fmt: skip
    assert response.status_code == 201
    task_name = f"{SLUG}.orders.tasks.process_order"
    (transaction,) = sink.wait_for_segments(lambda segment: segment.name == task_name)
    assert transaction.tags["request_id"] == "task-rid-789"
    assert transaction.tags["task_id"]


# --- Process set-up, checked in fresh interpreters -------------------------------------

DEPRECATION_SCRIPT = """
import django
django.setup()
import sentry_sdk
from django.core.management import call_command
from django.test import Client
from {{ cookiecutter.project_slug }}.orders.models import Order

assert sentry_sdk.get_client().is_active()
call_command("migrate", verbosity=0)
body = '{"amount": "3.50"}'
response = Client().post("/orders/", data=body, content_type="application/json")
assert response.status_code == 201, response.content
assert Order.objects.get().status == "processed"
sentry_sdk.flush(timeout=5)
print("done")
"""


def test_no_deprecated_sentry_api_in_a_request_and_a_task(sink):
    sink.clear()
    result = run_python(
        "-W", "error::DeprecationWarning", "-c", DEPRECATION_SCRIPT,
        env=sentry_env(sink, DATABASE_URL="sqlite://:memory:", DJANGO_ALLOWED_HOSTS="testserver"),
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "done"
    # The eager task ran inside the request and still got its transaction.
    task_name = f"{SLUG}.orders.tasks.process_order"
    assert sink.wait_for_segments(lambda segment: segment.name == task_name)


def test_no_deprecated_sentry_api_in_the_source():
    deprecated = ("push_scope", "configure_scope", "Hub(", "Hub.current", "send_default_pii=")
    sources = [*(PROJECT_DIR / SLUG).rglob("*.py"), *(PROJECT_DIR / "config").rglob("*.py")]
    found = [
        f"{path.relative_to(PROJECT_DIR)}: {name}"
        for path in sources
        for name in deprecated
        if name in path.read_text()
    ]
    assert found == []


INIT_SCRIPT = """
import django
django.setup()
import sentry_sdk
from {{ cookiecutter.project_slug }}.monitoring.sentry import init_sentry

# django.setup() called it once (SentryConfig.ready()); a second call starts nothing.
first = sentry_sdk.get_client()
init_sentry()
again = sentry_sdk.get_client()
print(first.is_active(), init_sentry(), again.is_active() and again is first)
"""


@pytest.mark.parametrize(
    ("dsn", "expected"), [("", "False False False"), ("SINK", "True True True")]
)
def test_sentry_starts_once_per_process_and_only_with_a_dsn(sink, dsn, expected):
    env = sentry_env(sink, SENTRY_DSN=sink.dsn if dsn else "")
    result = run_python("-c", INIT_SCRIPT, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected.split()


UNWRAPPED_SCRIPT = """
import os

import django
import sentry_sdk
from django.core.handlers.wsgi import WSGIHandler
from sentry_sdk.integrations.django import DjangoIntegration

from {{ cookiecutter.project_slug }}.monitoring.sentry import startup

if os.environ.get("MIDDLEWARE_SPANS"):
    defaults = startup.build_options

    def build_options():
        options = defaults()
        options["integrations"] = [
            DjangoIntegration(middleware_spans=True) if isinstance(i, DjangoIntegration) else i
            for i in options["integrations"]
        ]
        return options

    startup.build_options = build_options
django.setup()

handler = WSGIHandler()
hooks = handler._view_middleware + handler._exception_middleware
# The integration's wrappers are functools.wraps copies of the hooks they wrap.
wrapped = any(hasattr(hook, "__wrapped__") for hook in hooks)
print(sentry_sdk.get_client().is_active(), len(hooks) > 0, wrapped)
"""


@pytest.mark.parametrize(("middleware_spans", "wrapped"), [("", "False"), ("1", "True")])
def test_middleware_is_wrapped_only_for_middleware_spans(sink, middleware_spans, wrapped):
    env = sentry_env(sink, MIDDLEWARE_SPANS=middleware_spans)
    result = run_python("-c", UNWRAPPED_SCRIPT, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", wrapped]


# The scripts below start a trace of their own, as a task does: 3.x has no
# start_transaction; there a span without a parent is the root of its segment.
ROOT_SPAN = """
import django

django.setup()
import sentry_sdk
from {{ cookiecutter.project_slug }}.monitoring.sentry._sdk_compat import STREAMS_SPANS


def root_span(op, name):
    if STREAMS_SPANS:
        return sentry_sdk.traces.start_span(name=name, parent_span=None)
    return sentry_sdk.start_transaction(op=op, name=name)
"""

SLACK_DELIVERY_SCRIPT = (
    ROOT_SPAN
    + """
import os
from {{ cookiecutter.project_slug }}.alerting.channels import post_json

with root_span("celery.task", "deliver-to-slack"):
    post_json(os.environ["SLACK_WEBHOOK_URL"], {"text": "hello"})
    sentry_sdk.capture_message("after the slack delivery")
sentry_sdk.flush()
print("sent")
"""
)


def test_the_slack_webhook_url_never_reaches_sentry(sink):
    """The SDK records outgoing calls (breadcrumbs, spans): the Slack URL is a credential."""
    sink.clear()
    with stub_server() as slack:
        slack_url = f"{slack.url}/services/T000/B000/slack-secret-path-4242"
        env = sentry_env(sink, SLACK_WEBHOOK_URL=slack_url)
        result = run_python("-c", SLACK_DELIVERY_SCRIPT, env=env)
        assert result.returncode == 0, result.stderr
        assert len(slack.received) == 1
    # The script flushed before it exited: both are in.
    [event] = sink.wait_for("event", lambda e: e.get("message") == "after the slack delivery")
    assert sink.wait_for_segments(lambda segment: segment.name == "deliver-to-slack")
    crumbs = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "httplib"]
    assert crumbs, event["breadcrumbs"]  # the call was recorded, its URL masked
    assert "slack-secret-path-4242" not in sink.raw().decode()


SDK_SENDS_SCRIPT = (
    ROOT_SPAN
    + """
import time

# The first event is sent from inside a trace, as a request's error is: the SDK starts
# its sending thread there, and the thread carries that trace on.
with root_span("task", "first-send"):
    sentry_sdk.capture_message("first send")
    time.sleep(0.5)
sentry_sdk.capture_message("second send")
time.sleep(6)  # spans stream every 5 s
sentry_sdk.flush()
print("sent")
"""
)


def test_the_sdk_sending_to_sentry_is_not_traced(sink):
    """3.0.0b2 traces its own sends to a DSN with a port (this receiver's, a self-hosted
    Sentry's) and streams each as a span, which it sends: a trace that never ends."""
    sink.clear()
    result = run_python("-c", SDK_SENDS_SCRIPT, env=sentry_env(sink), timeout=60)
    assert result.returncode == 0, result.stderr
    assert [e["message"] for e in sink.events()] == ["first send", "second send"]
    assert [segment.name for segment in sink.segments()] == ["first-send"]
    names = [span["name"] for span in sink.spans()] + [
        child.name for segment in sink.segments() for child in segment.children
    ]
    assert [name for name in names if "/api/1/envelope/" in name] == []


def test_the_sdk_internals_we_reach_into_are_still_there():
    """sentry-sdk changed what monitoring/sentry/_sdk_internals.py relies on: update it."""
    import inspect

    from sentry_sdk.integrations.django import middleware as sdk_middleware
    from sentry_sdk.utils import logger as sdk_logger

    from {{ cookiecutter.project_slug }}.monitoring.sentry import _sdk_internals

    fix = "sentry-sdk changed: see monitoring/sentry/_sdk_internals.py"
    assert sdk_logger.name == _sdk_internals.SDK_LOGGER, fix
    patch = getattr(sdk_middleware, "patch_django_middlewares", None)
    assert patch is not None, fix
    assert "base.import_string" in inspect.getsource(patch), fix


SDK_RECORDS_SCRIPT = """
import io
import logging
import os

import django
import sentry_sdk
from django.core.handlers.wsgi import WSGIHandler

from {{ cookiecutter.project_slug }}.monitoring.sentry import _sdk_internals, startup

if os.environ.get("SENTRY_DEBUG_ON"):
    defaults = startup.build_options
    startup.build_options = lambda: {**defaults(), "debug": True}
django.setup()

built = []
make_record = logging.getLogRecordFactory()


def counting_factory(*args, **kwargs):
    record = make_record(*args, **kwargs)
    if record.name == _sdk_internals.SDK_LOGGER:
        built.append(record)
    return record


logging.setLogRecordFactory(counting_factory)
environ = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/health/live/", "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
}
for _ in range(3):  # health requests: never sampled, so each one is a discarded transaction
    b"".join(WSGIHandler()(environ, lambda status, headers: None))
print("built:", sentry_sdk.get_client().options["debug"], len(built), flush=True)
"""


@pytest.mark.parametrize("debug", ["", "1"])
def test_sdk_debug_records_are_built_only_with_debug_on(sink, debug):
    result = run_python("-c", SDK_RECORDS_SCRIPT, env=sentry_env(sink, SENTRY_DEBUG_ON=debug))
    assert result.returncode == 0, result.stderr
    # Among the access lines (and, with debug on, the SDK's own).
    ((debug_on, records),) = (
        line.split()[1:] for line in result.stdout.splitlines() if line.startswith("built:")
    )
    assert debug_on == str(bool(debug))
    # Two per discarded transaction ("Discarding ...") and more, only when they print.
    assert int(records) >= 6 if debug else int(records) == 0


@pytest.mark.parametrize("value", ["abc", "1.5", "-0.1", "nan"])
def test_bad_sample_rate_is_refused_with_its_name(value):
    result = run_manage("check", env=clean_env(SENTRY_TRACES_SAMPLE_RATE=value))
    assert result.returncode != 0
    assert f"SENTRY_TRACES_SAMPLE_RATE is '{value}'; use a number from 0 to 1." in result.stderr


# --- Filters, unit by unit ----------------------------------------------------------


# Paths Sentry leaves alone: health probes{% if cookiecutter.use_prometheus == "y" %} and Prometheus' scrapes{% endif %}.
UNMONITORED_PATHS = ("/health/", "/health/ready/"{% if cookiecutter.use_prometheus == "y" %}, "/metrics"{% endif %})


def test_before_send_drops_probe_errors_and_keeps_the_rest():
    redactor = Redactor(allow_pii=False)
    for url in [f"http://h{path}" for path in UNMONITORED_PATHS] + ["http://h/health/ready/?x=1"]:
        assert before_send({"request": {"url": url}}, {}, redactor=redactor) is None
    event = {"request": {"url": "http://h/orders/"}, "user": {"id": "1", "email": "a@b.c"}}
    assert before_send(event, {}, redactor=redactor) == {
        "request": {"url": "http://h/orders/"},
        "user": {"id": "1"},
        "tags": {},
    }


def test_traces_sampler_never_traces_probes_and_follows_the_parent():
    sampler = make_traces_sampler(0.25)
    web = lambda path: {"wsgi_environ": {"PATH_INFO": path}}  # noqa: E731
    assert sampler(web("/health/live/")) == 0.0
    for path in UNMONITORED_PATHS:
        assert sampler({**web(path), "parent_sampled": True}) == 0.0
    assert sampler(web("/orders/")) == 0.25
    assert sampler({**web("/orders/"), "parent_sampled": True}) == 1.0
    assert sampler({"parent_sampled": False}) == 0.0
    assert sampler({}) == 0.25
