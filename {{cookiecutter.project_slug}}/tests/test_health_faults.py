"""Health endpoints under real faults, served by gunicorn with production settings.

Each fault is a real server configuration: a Redis or PostgreSQL URL pointing at a
loopback server that accepts and never answers, or at a closed port. Every answer
must come within HEALTH_CHECK_TIMEOUT + 0.5 s and leak no host, port or password.
"""

import json
import os
import re

import pytest

from .conftest import child_database_url, clean_env, free_port, requires
from .support.live_server import Answer, get, gunicorn, hanging_server

TIMEOUT = 1.0
BOUND = TIMEOUT + 0.5
PASSWORD = "pw-never-shown-4821"
POD_IP = "10.42.3.17"

pytestmark = pytest.mark.django_db  # child processes use the test database
needs_services = requires("DATABASE_URL", "REDIS_URL")


def production_env(**overrides: str) -> dict[str, str]:
    variables = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "a-production-like-secret-key-that-is-long-enough-0123456789-abcdef",
        "DATABASE_URL": child_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "ENVIRONMENT": "production",
        "HEALTH_CHECK_TIMEOUT": str(TIMEOUT),
    }
    return clean_env(**{**variables, **overrides})


def assert_no_leak(answer: Answer, port: int) -> None:
    for secret in ("Traceback", "127.0.0.1", "localhost", "redis://", "postgres", PASSWORD):
        assert secret not in answer.text
    assert not re.search(rf"\b{port}\b", answer.text)


def checks(answer: Answer) -> dict[str, dict]:
    return json.loads(answer.text)["checks"]


def probe_all(base_url: str) -> dict[str, Answer]:
    return {path: get(base_url, path) for path in ("/health/live/", "/health/ready/", "/health/")}


@needs_services
def test_healthy_over_plain_http_with_a_pod_ip_host():
    # Statuses, not the deadline, are under test here: room for a busy machine. Beat's
    # entries count from when a check first saw them, which an earlier test of the session
    # may have done (the cache is shared): a day's grace keeps them on time here.
    env = production_env(HEALTH_CHECK_TIMEOUT="3", CELERY_BEAT_GRACE="86400")
    with gunicorn(env) as base_url:
        for path in ("/health/live/", "/health/ready/", "/health/"):
            answer = get(base_url, path, {"Host": POD_IP})
            assert answer.status == 200, (path, answer.text)  # no 301 to https, no 400
            assert "no-store" in answer.headers["Cache-Control"]
        assert json.loads(get(base_url, "/health/ready/").text)["status"] == "ready"
        body = json.loads(get(base_url, "/health/").text)
        assert body["environment"] == "production"
        assert {name: check["status"] for name, check in body["checks"].items()} == {
            "database": "ok", "cache": "ok", "broker": "ok", "disk": "ok", "migrations": "ok",
            # No worker runs for this server (one of another test session might answer).
            "celery_workers": body["checks"]["celery_workers"]["status"],
            "beat": "ok",
{%- if cookiecutter.use_sentry == "y" %}
            "alert_path": "ok",  # not probed: no SENTRY_DSN
{%- endif %}
        }  # fmt: skip
        assert get(base_url, "/health/db/").status == 200
        # The rest of the site still refuses the pod IP, and still redirects to https.
        assert get(base_url, "/orders/1/", {"Host": POD_IP}).status == 400
        assert get(base_url, "/orders/1/", {"Host": "example.com"}).status == 301


@needs_services
@pytest.mark.parametrize("fault", ["hanging", "closed"])
def test_redis_fault(fault):
    with hanging_server() as hanging_port:
        port = hanging_port if fault == "hanging" else free_port()
        env = production_env(REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
        with gunicorn(env) as base_url:
            answers = probe_all(base_url)
            # Repeated probing while Redis hangs still answers on time.
            again = [get(base_url, "/health/ready/") for _ in range(2)]
    assert answers["/health/live/"].status == 200
    ready, full = answers["/health/ready/"], answers["/health/"]
    assert ready.status == 503
    assert json.loads(ready.text)["status"] == "not_ready"
    assert {name: c["status"] for name, c in checks(ready).items()} == {
        "database": "ok", "cache": "error", "broker": "error",
    }  # fmt: skip
    assert full.status == 503
    assert json.loads(full.text)["status"] == "unhealthy"
    assert checks(full)["celery_workers"]["status"] == "warning"
    # The first probe starts the checks. Hung, the broker's check misses the deadline, and
    # the cache's client gives up first, on its own socket timeout (REDIS_SOCKET_TIMEOUT).
    if fault == "hanging":
        assert checks(ready)["broker"]["message"] == f"timed out after {TIMEOUT:g} s"
        assert re.fullmatch(r"timed out after 0\.\d+ s", checks(ready)["cache"]["message"])
    else:
        assert checks(ready)["cache"]["message"] == "check failed"
        assert checks(ready)["broker"]["message"] == "check failed"
    for answer in [*answers.values(), *again]:
        assert answer.seconds < BOUND
        assert_no_leak(answer, port)
    assert all(answer.status == 503 for answer in again)


@needs_services
@pytest.mark.parametrize("fault", ["hanging", "closed"])
def test_database_fault(fault):
    with hanging_server() as hanging_port:
        port = hanging_port if fault == "hanging" else free_port()
        database_url = f"postgres://postgres:{PASSWORD}@127.0.0.1:{port}/app"
        with gunicorn(production_env(DATABASE_URL=database_url)) as base_url:
            answers = probe_all(base_url)
            answers["/health/db/"] = get(base_url, "/health/db/")
            again = [get(base_url, "/health/ready/") for _ in range(2)]
    assert answers["/health/live/"].status == 200
    ready, full = answers["/health/ready/"], answers["/health/"]
    assert ready.status == 503
    assert {name: c["status"] for name, c in checks(ready).items()} == {
        "database": "error", "cache": "ok", "broker": "ok",
    }  # fmt: skip
    assert full.status == 503
    assert checks(full)["migrations"]["status"] == "error"
    assert answers["/health/db/"].status == 503
    assert json.loads(answers["/health/db/"].text)["status"] == "error"
    for answer in [*answers.values(), *again]:
        assert answer.seconds < BOUND
        assert_no_leak(answer, port)
    assert all(answer.status == 503 for answer in again)


def test_database_endpoint_on_sqlite(tmp_path):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    with gunicorn(env) as base_url:
        answer = get(base_url, "/health/db/")
    assert answer.status == 200
    assert json.loads(answer.text) == {"status": "ok", "engine": "sqlite"}
