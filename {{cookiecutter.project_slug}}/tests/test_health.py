"""Health endpoints in-process: statuses, deadline, custom checks, token, host, logs.

Faults that need another server configuration (hung Redis or PostgreSQL) are in
test_health_faults.py, against gunicorn.
"""

import logging
import re
import threading
import time
from concurrent.futures import Future

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from config.celery_app import app as celery_app
from {{ cookiecutter.project_slug }}.monitoring.health import checks, ok, runner, warning

from .conftest import clean_env, requires, run_manage, run_python
from .support.live_server import hanging_server

PROBES = ("/health/live/", "/health/ready/", "/health/")
HEALTH_LOGGER = runner.logger.name
SECRET = "s3cret-detail-from-an-exception"
release = threading.Event()
started_runs: list[float] = []


# Custom checks used through settings.HEALTH_CHECKS (dotted paths to this module).
def custom_ok(seconds_left: float):
    return ok("custom fine")


def custom_warns(seconds_left: float):
    return warning("custom unsure")


def custom_raises(seconds_left: float):
    raise ConnectionError(f"password={SECRET} host=10.9.8.7:6543")


def custom_returns_junk(seconds_left: float):
    return "fine"


def custom_sleeps(seconds_left: float):
    time.sleep(0.4)
    return ok()


def custom_hangs(seconds_left: float):
    started_runs.append(time.monotonic())
    release.wait(timeout=10)
    return ok()


def with_checks(**extra: str) -> override_settings:
    paths = {name: f"tests.test_health.{func}" for name, func in extra.items()}
    return override_settings(HEALTH_CHECKS={**settings.HEALTH_CHECKS, **paths})


def only_checks(**checks: str) -> override_settings:
    """Just these checks: timing tests don't depend on the services' speed."""
    paths = {name: f"tests.test_health.{func}" for name, func in checks.items()}
    return override_settings(HEALTH_CHECKS=paths, HEALTH_WARNING_ONLY_CHECKS=[])


@pytest.fixture(autouse=True)
def relaxed_deadline(settings):
    """Room for a slow first connection on a busy machine; deadline tests set their own."""
    settings.HEALTH_CHECK_TIMEOUT = 3.0


@pytest.fixture
def hang():
    """Checks using custom_hangs stay stuck until the test ends, then finish."""
    release.clear()
    started_runs.clear()
    yield
    release.set()
    # Wait for a run still in flight, so the next test can't join it.
    in_ten_seconds = time.monotonic() + 10
    runner.submit("check:stuck", lambda seconds_left: None, in_ten_seconds).result(timeout=10)


def timed_get(client, path, **extra):
    started = time.monotonic()
    response = client.get(path, **extra)
    return response, time.monotonic() - started


def test_liveness_answers_without_services(client):
    response = client.get("/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


@pytest.mark.django_db
def test_everything_healthy(client):
    """Against the configured services (real PostgreSQL and Redis in CI)."""
    ready = client.get("/health/ready/")
    assert ready.status_code == 200, ready.content
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["status"] == "ok" for check in body["checks"].values())

    full = client.get("/health/")
    assert full.status_code == 200, full.content
    body = full.json()
    assert body["status"] == "healthy", body
    assert body["version"] == settings.RELEASE_VERSION
    assert body["environment"] == settings.ENVIRONMENT
    assert "timestamp" in body
    assert set(body["checks"]) == {
        "database", "cache", "broker", "disk", "migrations", "celery_workers", "beat",
{%- if cookiecutter.use_sentry == "y" %}
        "alert_path",
{%- endif %}
    }  # fmt: skip
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert isinstance(check["duration_ms"], float)


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*PROBES, "/health/db/"])
def test_answers_are_never_cached(client, path):
    response = client.get(path)
    assert "no-store" in response["Cache-Control"]
    assert "no-cache" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*PROBES, "/health/db/"])
def test_only_get_and_head(client, path):
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("path", PROBES)
def test_pod_ip_host_reaches_probes_only(client, path):
    assert client.get(path, HTTP_HOST="10.12.0.7").status_code == 200
    assert client.get("/orders/1/", HTTP_HOST="10.12.0.7").status_code == 400


@override_settings(ROOT_URLCONF="tests.support.urls_without_health_db")
def test_a_route_removed_from_urls_is_no_longer_a_probe(client):
    assert client.get("/health/live/", HTTP_HOST="10.12.0.7").status_code == 200
    assert client.get("/health/db/", HTTP_HOST="10.12.0.7").status_code == 400
    assert client.get("/health/db/").status_code == 404


@pytest.mark.django_db
def test_disk_below_warning_threshold_is_degraded(client):
    with override_settings(HEALTH_CHECK_DISK_WARNING_PERCENT=100):
        response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["disk"]["status"] == "warning"
    assert body["checks"]["disk"]["message"].endswith("% free")


@pytest.mark.django_db
def test_disk_below_error_threshold_is_unhealthy_but_ready(client):
    with override_settings(
        HEALTH_CHECK_DISK_WARNING_PERCENT=100, HEALTH_CHECK_DISK_ERROR_PERCENT=100
    ):
        full, seconds = timed_get(client, "/health/")
        ready = client.get("/health/ready/")
        live = client.get("/health/live/")
    assert full.status_code == 503
    assert full.json()["status"] == "unhealthy"
    assert full.json()["checks"]["disk"]["status"] == "error"
    assert seconds < settings.HEALTH_CHECK_TIMEOUT + 0.5
    assert ready.status_code == 200
    assert live.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_pending_migration_is_unhealthy_but_ready(client):
    recorder = MigrationRecorder.Migration.objects
    recorder.filter(app="orders", name="0001_initial").delete()
    try:
        full, seconds = timed_get(client, "/health/")
        ready = client.get("/health/ready/")
        live = client.get("/health/live/")
    finally:
        MigrationRecorder.Migration.objects.create(app="orders", name="0001_initial")
    assert full.status_code == 503
    assert full.json()["checks"]["migrations"] == {
        "status": "error",
        "duration_ms": full.json()["checks"]["migrations"]["duration_ms"],
        "message": "1 unapplied migration(s)",
    }
    assert seconds < settings.HEALTH_CHECK_TIMEOUT + 0.5
    assert ready.status_code == 200
    assert live.status_code == 200
    assert client.get("/health/").json()["checks"]["migrations"]["status"] == "ok"


@requires("REDIS_URL")
@pytest.mark.django_db
def test_no_celery_worker_is_a_warning_only(client):
    conf = celery_app.conf
    previous = (conf.task_always_eager, conf.broker_transport_options)
    conf.task_always_eager = False
    # Our own fanout channel: no worker (not even one of a parallel test session) listens.
    conf.broker_transport_options = {"fanout_prefix": "/health-no-worker."}
    try:
        full, seconds = timed_get(client, "/health/")
    finally:
        conf.task_always_eager, conf.broker_transport_options = previous
    assert full.status_code == 200
    body = full.json()
    assert body["status"] == "degraded"
    assert body["checks"]["celery_workers"]["status"] == "warning"
    assert body["checks"]["celery_workers"]["message"] == "no worker answered"
    assert seconds < settings.HEALTH_CHECK_TIMEOUT + 0.5
    assert client.get("/health/ready/").status_code == 200
    assert client.get("/health/live/").status_code == 200


CURRENT_APP_SCRIPT = """
import threading

from celery import current_app

from config.celery_app import app
from config.wsgi import application  # Django set up as gunicorn does it

seen = []
thread = threading.Thread(target=lambda: seen.append(current_app._get_current_object()))
thread.start()
thread.join()
print(current_app._get_current_object() is app, seen[0] is app)
"""


def test_the_worker_check_reads_the_project_celery_app_in_any_thread():
    # Checks run in a thread pool, where Celery's current app is its default app.
    result = run_python("-c", CURRENT_APP_SCRIPT, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_running_celery_worker_answers(client, celery_worker):
    check = client.get("/health/").json()["checks"]["celery_workers"]
    assert check["status"] == "ok"
    assert "message" not in check


@pytest.mark.django_db
def test_a_cache_that_stores_nothing_is_an_error(client):
    dummy = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    with override_settings(CACHES=dummy):
        response = client.get("/health/ready/")
    assert response.status_code == 503
    cache = response.json()["checks"]["cache"]
    assert cache["status"] == "error"
    assert cache["message"] == "value read back differs from the one written"


@pytest.mark.django_db
def test_a_broker_other_than_redis_is_not_checked(client):
    with override_settings(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//"):
        response = client.get("/health/ready/")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == {
        "status": "warning",
        "duration_ms": response.json()["checks"]["broker"]["duration_ms"],
        "message": "only Redis brokers are checked",
    }


@pytest.mark.django_db
def test_custom_checks_are_reported(client):
    with with_checks(payments="custom_ok", search="custom_warns"):
        body = client.get("/health/").json()
    assert body["checks"]["payments"]["status"] == "ok"
    assert body["checks"]["payments"]["message"] == "custom fine"
    assert body["checks"]["search"] == {
        "status": "warning",
        "duration_ms": body["checks"]["search"]["duration_ms"],
        "message": "custom unsure",
    }
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_custom_check_in_readiness(client):
    with (
        with_checks(payments="custom_raises"),
        override_settings(HEALTH_READY_CHECKS=["database", "payments"]),
    ):
        response = client.get("/health/ready/")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert set(response.json()["checks"]) == {"database", "payments"}


@pytest.mark.django_db
def test_failure_text_goes_to_the_log_not_the_body(client, caplog, log_capture):
    with (
        with_checks(payments="custom_raises", junk="custom_returns_junk"),
        caplog.at_level(logging.WARNING, logger=HEALTH_LOGGER),
    ):
        response = client.get("/health/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["payments"]["status"] == checks["junk"]["status"] == "error"
    assert checks["payments"]["message"] == checks["junk"]["message"] == "check failed"
    for leak in (SECRET, "10.9.8.7", "6543", "Traceback", "ConnectionError"):
        assert leak not in response.content.decode()
    logged = [r for r in caplog.records if r.name == HEALTH_LOGGER]
    assert any(SECRET in r.getMessage() and "ConnectionError" in r.getMessage() for r in logged)
    assert any("not a Result" in r.getMessage() for r in logged)
    assert all(r.levelno == logging.WARNING for r in logged)
    # Logged by the request's thread, so request-scoped context (request_id) is on the line.
    health_lines = [r for r in log_capture.records() if r["logger"] == HEALTH_LOGGER]
    assert len(health_lines) == 2
    assert {line["request_id"] for line in health_lines} == {response["X-Request-ID"]}


@pytest.mark.django_db
def test_checks_run_concurrently(client):
    # Three checks of 0.4 s fit in a 1 s deadline only when they run side by side.
    with (
        only_checks(a="custom_sleeps", b="custom_sleeps", c="custom_sleeps"),
        override_settings(HEALTH_CHECK_TIMEOUT=1.0),
    ):
        response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"


@pytest.mark.django_db
def test_a_hung_check_times_out_and_is_not_started_twice(client, hang, caplog):
    timeout = 0.3
    with (
        only_checks(stuck="custom_hangs"),
        override_settings(HEALTH_CHECK_TIMEOUT=timeout),
        caplog.at_level(logging.WARNING, logger=HEALTH_LOGGER),
    ):
        answers = [timed_get(client, "/health/") for _ in range(4)]
    for response, seconds in answers:
        assert seconds < timeout + 0.5
        assert response.status_code == 503
        stuck = response.json()["checks"]["stuck"]
        assert stuck["status"] == "error"
        assert stuck["message"] == "timed out after 0.3 s"
    # Later requests joined the run still in flight instead of taking another thread.
    assert len(started_runs) == 1
    assert any("missed the 0.3 s deadline" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_warning_only_check_that_times_out_is_a_warning(client, hang):
    with (
        only_checks(stuck="custom_hangs"),
        override_settings(HEALTH_CHECK_TIMEOUT=0.2, HEALTH_WARNING_ONLY_CHECKS=["stuck"]),
    ):
        response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["stuck"]["status"] == "warning"


def test_a_check_done_only_after_the_deadline_missed_it():
    # Done between the end of the runner's wait and its reading of the result.
    started = time.monotonic()

    def outcome(finished_after: float) -> runner.Outcome:
        future: Future = Future()
        future.set_result(runner._Run(ok(), 5.0, finished=started + finished_after))
        return runner._outcome("late", future, timeout=1.0, started=started)

    assert outcome(0.9).status == "ok"
    late = outcome(1.001)
    assert (late.status, late.message) == ("error", "timed out after 1 s")


def test_broker_sockets_give_up_when_the_seconds_left_run_out(settings):
    # HEALTH_CHECK_TIMEOUT is 3 s here: the broker's sockets go by the time left, not by it.
    with hanging_server() as port:
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        for seconds_left, at_least in ((0.3, 0.3), (0.0, checks.MIN_SOCKET_TIMEOUT)):
            started = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                checks.broker(seconds_left)
            assert at_least - 0.01 < time.monotonic() - started < 1.0, seconds_left


@pytest.mark.django_db
@override_settings(HEALTH_CHECK_TOKEN="t0ken-for-details")
@pytest.mark.parametrize(
    ("authorization", "details"),
    [
        (None, False),
        ("Bearer wrong", False),
        ("Bearer t0ken-for-detailsX", False),
        ("Basic t0ken-for-details", False),
        ("Bearer t0ken-for-details", True),
        ("bearer t0ken-for-details", True),
    ],
)
def test_token_guards_messages_not_statuses(client, authorization, details):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    with override_settings(HEALTH_CHECK_DISK_WARNING_PERCENT=100):
        body = client.get("/health/", **headers).json()
        db = client.get("/health/db/", **headers).json()
    disk = body["checks"]["disk"]
    assert disk["status"] == "warning"
    assert "duration_ms" in disk
    assert ("message" in disk) is details
    assert db["status"] == "ok"
    assert ("connections" in db) is (details and db["engine"] == "postgresql")


@requires("DATABASE_URL")
@pytest.mark.django_db
def test_database_endpoint_reports_postgresql_connections(client):
    response = client.get("/health/db/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["engine"] == "postgresql"
    assert body["connections"] >= 1
    assert body["oldest_connection_seconds"] >= 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"HEALTH_CHECKS": {"x": "tests.nowhere.check"}}, "HEALTH_CHECKS['x']"),
        ({"HEALTH_CHECKS": {"x": "tests.test_health.SECRET"}}, "is not callable"),
        ({"HEALTH_READY_CHECKS": ["database", "nope"]}, "missing from HEALTH_CHECKS: nope"),
        ({"HEALTH_WARNING_ONLY_CHECKS": ["nope"]}, "missing from HEALTH_CHECKS: nope"),
        ({"HEALTH_CHECK_OBSERVERS": ["tests.nowhere.observe"]}, "'tests.nowhere.observe'"),
        ({"HEALTH_CHECK_OBSERVERS": ["tests.test_health.SECRET"]}, "not an importable callable"),
    ],
)
def test_system_check_refuses_a_bad_registry(overrides, expected):
    with override_settings(**overrides), pytest.raises(SystemCheckError, match=re.escape(expected)):
        call_command("check")


OBSERVED: list[tuple[str, str, float]] = []


def record_run(name: str, status: str, seconds: float) -> None:
    OBSERVED.append((name, status, seconds))


@pytest.mark.django_db
def test_every_check_run_reaches_the_observers(client):
    OBSERVED.clear()
    observers = ["tests.test_health.record_run"]
    with override_settings(HEALTH_CHECK_OBSERVERS=observers):
        assert client.get("/health/").status_code in (200, 503)
    assert sorted(name for name, _, _ in OBSERVED) == sorted(settings.HEALTH_CHECKS)
    assert all(status in ("ok", "warning", "error") for _, status, _ in OBSERVED)
    assert all(seconds >= 0 for _, _, seconds in OBSERVED)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"HEALTH_CHECK_TIMEOUT": "soon"}, "HEALTH_CHECK_TIMEOUT is 'soon'; use a number from 0.1"),
        ({"HEALTH_CHECK_TIMEOUT": "0"}, "HEALTH_CHECK_TIMEOUT is '0'"),
        ({"HEALTH_CHECK_TIMEOUT": "nan"}, "HEALTH_CHECK_TIMEOUT is 'nan'"),
        ({"HEALTH_CHECK_DISK_WARNING_PERCENT": "120"}, "HEALTH_CHECK_DISK_WARNING_PERCENT"),
        (
            {"HEALTH_CHECK_DISK_WARNING_PERCENT": "5", "HEALTH_CHECK_DISK_ERROR_PERCENT": "10"},
            "HEALTH_CHECK_DISK_ERROR_PERCENT is '10'; use a number from 0 to 5.",
        ),
    ],
)
def test_bad_health_variables_stop_startup(variables, expected):
    result = run_manage("check", env=clean_env(**variables))
    assert result.returncode != 0
    assert expected in result.stderr
