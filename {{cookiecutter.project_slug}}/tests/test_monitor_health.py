"""scripts/monitor.py --check health, run as a subprocess: Nagios exit codes and output."""

from __future__ import annotations

import json
import os
import time

import pytest

from .conftest import child_database_url, clean_env, requires
from .support.live_server import gunicorn
from .support.loopback import Reply, closed_port_url, silent_server, stub_server
from .support.monitor_script import monitor


def report(status: str, **checks: dict) -> dict:
    return {
        "status": status,
        "timestamp": "2026-01-01T00:00:00Z",
        "version": "0.1.0",
        "environment": "production",
        "checks": {"database": {"status": "ok", "duration_ms": 2}, **checks},
    }


HEALTHY = report("healthy", cache={"status": "ok", "duration_ms": 1})
DEGRADED = report(
    "degraded", celery_workers={"status": "warning", "duration_ms": 3, "message": "no worker"}
)
UNHEALTHY = report(
    "unhealthy",
    cache={"status": "error", "duration_ms": 1000, "message": "timed out\nafter 1.0 s"},
    disk={"status": "error", "duration_ms": 1},
)


@pytest.mark.parametrize(
    ("http_status", "body", "code", "line"),
    [
        (200, HEALTHY, 0, "HEALTH OK - healthy (2 checks ok)"),
        (200, DEGRADED, 1, "HEALTH WARNING - degraded: celery_workers=warning (no worker)"),
        (
            503, UNHEALTHY, 2,
            "HEALTH CRITICAL - unhealthy: cache=error (timed out after 1.0 s), disk=error",
        ),
    ],
)  # fmt: skip
def test_health_states_map_to_nagios_codes(http_status, body, code, line):
    with stub_server(lambda received: Reply(http_status, body)) as app:
        result = monitor("--check", "health", "--url", app.url)
        [request] = app.received
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stdout == line + "\n"
    assert request.path == "/health/"


def test_json_output_is_one_object():
    with stub_server(lambda received: Reply(503, UNHEALTHY)) as app:
        result = monitor("--check", "health", "--url", app.url, "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout) == {
        "check": "health",
        "status": "CRITICAL",
        "code": 2,
        "message": "unhealthy: cache=error (timed out after 1.0 s), disk=error",
        "url": f"{app.url}/health/",
        "http_status": 503,
        "health": "unhealthy",
        "failing": {
            "cache": {"status": "error", "message": "timed out after 1.0 s"},
            "disk": {"status": "error", "message": ""},
        },
    }


@pytest.mark.parametrize(
    ("suffix", "path"),
    [("/", "/health/"), ("/app", "/app/health/"), ("/health/", "/health/"), ("/health", "/health")],
)
def test_the_url_may_be_the_site_or_the_health_endpoint(suffix, path):
    with stub_server(lambda received: Reply(200, HEALTHY)) as app:
        assert monitor("--check", "health", "--url", app.url + suffix).returncode == 0
        assert app.received[0].path == path


def test_the_health_token_is_sent_and_never_printed():
    token = "health-token-5f3c9a"
    body = report("degraded", cache={"status": "warning", "message": f"saw {token}"})
    with stub_server(lambda received: Reply(200, body)) as app:
        result = monitor("--check", "health", "--url", app.url, env={"HEALTH_CHECK_TOKEN": token})
        assert app.received[0].headers["Authorization"] == f"Bearer {token}"
    assert result.returncode == 1
    assert token not in result.stdout + result.stderr
    assert "saw ***" in result.stdout


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(200, b"<html>ok</html>"), "did not answer JSON"),
        (Reply(200, {"status": "alive"}), "answered HTTP 200 without a health status"),
        (Reply(404, {"detail": "Not found"}), "answered HTTP 404 without a health status"),
        (Reply(500, b"Internal Server Error"), "did not answer JSON"),
        (Reply(200, b"[" * 100_000), "did not answer JSON"),
        (Reply(200, b"x" * (2 * 1024 * 1024)), "more than 1 MiB"),
    ],
)
def test_unexpected_answers_are_unknown(reply, reason):
    with stub_server(lambda received: reply) as app:
        result = monitor("--check", "health", "--url", app.url)
    assert result.returncode == 3
    assert result.stdout.startswith("HEALTH UNKNOWN - ")
    assert reason in result.stdout


def test_an_unreachable_app_is_unknown():
    result = monitor("--check", "health", "--url", closed_port_url())
    assert result.returncode == 3
    assert "cannot reach" in result.stdout


def test_a_hanging_app_is_unknown_within_the_timeout():
    with silent_server() as url:
        started = time.monotonic()
        result = monitor("--check", "health", "--url", url, "--timeout", "1")
        elapsed = time.monotonic() - started
    assert result.returncode == 3
    assert "timed out" in result.stdout
    assert elapsed < 10  # generous: the interpreter start plus the 1 s timeout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--check", "health"], "--url is required"),
        (["--check", "health", "--url", "ftp://example.com"], "not an http(s) URL"),
        (["--check", "health", "--url", "http://x", "--timeout", "soon"], "not a number"),
        (["--check", "health", "--url", "http://x", "--timeout", "0"], "must be at least"),
        (["--check", "disk"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_are_unknown_not_critical(args, reason):
    result = monitor(*args)
    assert result.returncode == 3
    assert reason in result.stdout
    assert result.stdout.count("\n") == 1


def test_bad_arguments_with_json_still_print_json():
    result = monitor("--check", "health", "--json", "--timeout", "soon")
    assert result.returncode == 3
    assert json.loads(result.stdout)["status"] == "UNKNOWN"


# Against the project itself, served by gunicorn --------------------------------


def app_env(**overrides: str) -> dict[str, str]:
    services = {"DATABASE_URL": child_database_url(), "REDIS_URL": os.environ["REDIS_URL"]}
    return clean_env(DJANGO_SETTINGS_MODULE="config.settings.test", **{**services, **overrides})


@requires("DATABASE_URL", "REDIS_URL")
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_real_app_is_healthy(celery_worker):
    with gunicorn(app_env()) as url:
        result = monitor("--check", "health", "--url", url)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("HEALTH OK - healthy")


@requires("DATABASE_URL", "REDIS_URL")
@pytest.mark.django_db(transaction=True)
def test_the_real_app_without_its_database_is_critical():
    broken = app_env(DATABASE_URL=closed_port_url().replace("http", "postgres") + "/nowhere")
    with gunicorn(broken) as url:
        result = monitor("--check", "health", "--url", url, "--json")
    assert result.returncode == 2, result.stdout
    answer = json.loads(result.stdout)
    assert answer["health"] == "unhealthy"
    assert answer["failing"]["database"]["status"] == "error"
