"""One log pipeline: real output of manage.py and gunicorn processes, parsed line by line."""

import http.client
import json
import logging
import logging.config
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from django.conf import settings
from gunicorn.config import KNOWN_SETTINGS
from structlog.stdlib import ProcessorFormatter

from {{ cookiecutter.project_slug }}.monitoring import (
    _stdlib_logging,
    _structlog_bridge,
    _structlog_context,
    logs,
)
from {{ cookiecutter.project_slug }}.monitoring.logs import build_logging, make_formatter

from .conftest import PROJECT_DIR, clean_env, free_port, parse_json_lines, run_manage

CONTRACT_FIELDS = ("timestamp", "level", "logger", "message", "environment", "release")
SECRETS = ("hunter2", "tok-123", "key-456", "cookie-789", "jane.doe@example.com", "dbpass")
# Logs through the standard library and structlog, with secrets in every shape.
LOGGING_CODE = """
import logging, structlog
from structlog.contextvars import bind_contextvars
bind_contextvars(request_id="req-42")
logging.getLogger("app.plain").info(
    "signup by %s", "jane.doe@example.com", extra={"password": "hunter2", "attempt": 1}
)
structlog.stdlib.get_logger("app.structured").warning(
    "payment retried",
    order_id=7,
    headers={"Authorization": "Bearer tok-123", "X-Api-Key": "key-456", "Accept": "json"},
    sent=[{"Cookie": "sessionid=cookie-789"}, "to jane.doe@example.com"],
    note="database at postgres://app:dbpass@db:5432/app",
)
logging.getLogger("app.plain").debug("not at INFO")
"""


def log_from_manage(**env: str) -> subprocess.CompletedProcess:
    result = run_manage("shell", "--no-imports", "-c", LOGGING_CODE, env=clean_env(**env))
    assert result.returncode == 0, result.stderr
    return result


def assert_contract_fields(record: dict, environment: str, release: str) -> None:
    for field in CONTRACT_FIELDS:
        assert field in record, (field, record)
    timestamp = datetime.fromisoformat(record["timestamp"])
    assert record["timestamp"].endswith("Z")
    assert timestamp.utcoffset() == UTC.utcoffset(None)
    assert record["environment"] == environment
    assert record["release"] == release


def test_stdlib_and_structlog_lines_share_one_json_shape():
    # Test settings: local ones refuse an ENVIRONMENT other than development.
    result = log_from_manage(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        LOG_FORMAT="json",
        ENVIRONMENT="staging",
        RELEASE_VERSION="1.4.2",
        LOG_LEVEL="info",
    )
    assert result.stderr == ""
    plain, structured = parse_json_lines(result.stdout)
    for record in (plain, structured):
        assert_contract_fields(record, "staging", "1.4.2")
        assert record["request_id"] == "req-42"
    assert (plain["level"], plain["logger"]) == ("info", "app.plain")
    assert plain["message"] == "signup by [Filtered]"
    assert plain["password"] == "[Filtered]"
    assert plain["attempt"] == 1
    assert (structured["level"], structured["logger"]) == ("warning", "app.structured")
    assert structured["message"] == "payment retried"
    assert structured["order_id"] == 7
    assert structured["headers"] == {
        "Authorization": "[Filtered]",
        "X-Api-Key": "[Filtered]",
        "Accept": "json",
    }
    assert structured["sent"] == [{"Cookie": "[Filtered]"}, "to [Filtered]"]
    assert structured["note"] == "database at postgres://app:[Filtered]@db:5432/app"
    for secret in SECRETS:
        assert secret not in result.stdout


def test_console_format_is_readable_and_redacted():
    result = log_from_manage(LOG_FORMAT="console")
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "signup by [Filtered]" in lines[0]
    assert "payment retried" in lines[1]
    assert "request_id=req-42" in lines[1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])
    for secret in SECRETS:
        assert secret not in result.stdout


def test_local_settings_default_to_console_lines():
    env = clean_env()
    env.pop("LOG_FORMAT", None)
    result = run_manage("shell", "--no-imports", "-c", LOGGING_CODE, env=env)
    assert result.returncode == 0, result.stderr
    assert "payment retried" in result.stdout
    assert not result.stdout.startswith("{")


def test_log_level_filters_lines():
    result = log_from_manage(LOG_FORMAT="json", LOG_LEVEL="warning")
    [record] = parse_json_lines(result.stdout)
    assert record["message"] == "payment retried"


def test_log_file_gets_json_lines_besides_stdout(tmp_path):
    log_file = tmp_path / "app.log"
    result = log_from_manage(LOG_FORMAT="console", LOG_FILE=str(log_file))
    assert "payment retried" in result.stdout
    records = parse_json_lines(log_file.read_text())
    assert [r["message"] for r in records] == ["signup by [Filtered]", "payment retried"]
    for secret in SECRETS:
        assert secret not in log_file.read_text()


def test_log_file_rotates(tmp_path):
    log_file = tmp_path / "rotating.log"
    config = build_logging(log_file=str(log_file), environment="test", release="0")
    config["handlers"]["file"]["maxBytes"] = 2_000
    try:
        logging.config.dictConfig(config)
        for number in range(50):
            logging.getLogger("rotation").warning("line %d", number)
    finally:
        logging.config.dictConfig(settings.LOGGING)
    backups = sorted(tmp_path.glob("rotating.log.*"))
    assert backups, "no rotated file"
    assert len(backups) <= 5
    for path in [log_file, *backups]:
        for record in parse_json_lines(path.read_text()):
            assert record["logger"] == "rotation"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LOG_FORMAT", "xml", "LOG_FORMAT is 'xml'; use one of: json, console."),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL is 'LOUD'; use one of: DEBUG, INFO"),
        ("LOG_FILE", "/no/such/folder/app.log", "LOG_FILE is '/no/such/folder/app.log'"),
    ],
)
def test_bad_logging_settings_are_refused_by_name(variable, value, message):
    result = run_manage("check", env=clean_env(**{variable: value}))
    assert result.returncode != 0
    assert message in result.stderr


# --- library internals the pipeline relies on ------------------------------------
# Each fails when a library moves what one fenced module uses, naming that module.


@contextmanager
def records_of(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records a logger of its own handles, at every level, written nowhere."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(name)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.level, logger.propagate = saved


def test_structlog_hands_records_over_as_the_bridge_reads_them():
    name = "tests.structlog_bridge"
    with records_of(name) as records:
        structlog.stdlib.get_logger(name).warning("from structlog", order_id=7)
        # The middleware hands its access line over this way.
        args, kwargs = ProcessorFormatter.wrap_for_formatter(
            logging.getLogger(name), "info", {"event": "handed over"}
        )
        logging.getLogger(name).info(*args, **kwargs)
        logging.getLogger(name).info("from the standard library")
    from_structlog, handed_over, foreign = records
    fix = (
        "structlog no longer hands records to the standard library as "
        "monitoring/_structlog_bridge.py reads them: fix that module"
    )
    origin = _structlog_bridge.structlog_origin
    stdlib_logger = logging.getLogger(name)
    event = {"event": "from structlog", "order_id": 7}
    assert origin(from_structlog) == (stdlib_logger, "warning", event), fix
    assert origin(handed_over) == (stdlib_logger, "info", {"event": "handed over"}), fix
    assert origin(foreign) is None
    # End to end: our formatter's line is structlog's own ProcessorFormatter's.
    formatter = make_formatter("json", "test", "0")
    for record in (from_structlog, handed_over):
        assert formatter.format(record) == ProcessorFormatter.format(formatter, record), fix


def test_structlog_context_helpers_agree_with_structlog():
    fix = (
        "structlog no longer keeps its context-local keys as "
        "monitoring/_structlog_context.py expects: fix that module"
    )
    contextvars = structlog.contextvars
    other = ContextVar("tests.not_structlog")

    def check() -> None:
        other.set("not a log key")
        contextvars.bind_contextvars(request_id="r-1", trace_id="t-1", user_id=7)
        contextvars.unbind_contextvars("user_id")  # cleared keys stay in the context
        _structlog_context.structlog_var("task_id").set("k-1")
        expected = contextvars.merge_contextvars(None, "info", {})
        assert expected == {"request_id": "r-1", "trace_id": "t-1", "task_id": "k-1"}, fix
        bound = _structlog_context.bound_context()
        assert bound == expected == contextvars.get_contextvars(), fix
        _structlog_context.clear_bound()
        assert contextvars.get_contextvars() == {}, fix
        assert _structlog_context.bound_context() == {}, fix
        assert other.get() == "not a log key"
        contextvars.bind_contextvars(request_id="r-2")
        contextvars.clear_contextvars()
        assert _structlog_context.bound_context() == {}, fix
        # A key structlog sees for the first time, after the helpers have read its variables.
        contextvars.bind_contextvars(tests_first_bound_here=1)
        assert _structlog_context.bound_context() == {"tests_first_bound_here": 1}, fix
        _structlog_context.clear_bound()
        assert contextvars.get_contextvars() == {}, fix

    copy_context().run(check)  # the test's bindings end with it
    # A key bound in another context only (another thread's request) is not this one's.
    copy_context().run(contextvars.bind_contextvars, tests_elsewhere="x")
    assert "tests_elsewhere" not in copy_context().run(_structlog_context.bound_context), fix


def test_records_skip_the_caller_thread_and_process_lookups():
    _stdlib_logging.skip_unrendered_record_attributes()  # as configure_logging does
    with records_of("tests.lean_records") as records:
        logging.getLogger("tests.lean_records").warning("a line")
    [record] = records
    fix = (
        "the standard library's logging no longer honours the switches in "
        "monitoring/_stdlib_logging.py: fix that module"
    )
    caller = (record.pathname, record.lineno, record.funcName)
    assert caller == ("(unknown file)", 0, "(unknown function)"), fix
    assert (record.thread, record.threadName) == (None, None), fix
    assert (record.process, record.processName) == (None, None), fix


# --- gunicorn --------------------------------------------------------------------


def gunicorn_command() -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    command += ["--bind", "127.0.0.1:0", "--workers", "1"]
    if any(setting.name == "control_socket" for setting in KNOWN_SETTINGS):
        command.append("--no-control-socket")  # parallel test runs would share it
    return command


def wait_for_port(stdout_path: Path, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited: {stdout_path.read_text()}")
        # Either format: the tests read every line's format afterwards.
        listening = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", stdout_path.read_text())
        if listening:
            return int(listening.group(1))
        time.sleep(0.05)
    pytest.fail("gunicorn did not listen within 30 s")


def send(port: int, method: str, path: str, *, body: bytes | None = None, headers: dict) -> tuple:
    """(status, X-Request-ID) of one request to gunicorn."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-Request-ID")
    finally:
        connection.close()


def test_gunicorn_and_django_write_only_json_lines(tmp_path):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="gunicorn-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        # Nothing listens there: POST /orders/ fails with an unhandled exception.
        DATABASE_URL=f"postgres://app:dbpass@127.0.0.1:{free_port()}/app",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        ENVIRONMENT="staging",
        RELEASE_VERSION="2.0.1",
        # Levels by status only: a first request slowed by a busy machine is no warning here.
        SLOW_REQUEST_THRESHOLD_MS="60000",
    )
    env.pop("LOG_FORMAT", None)  # production default: JSON
    stdout_path, stderr_path = tmp_path / "stdout", tmp_path / "stderr"
    with open(stdout_path, "w") as stdout, open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            gunicorn_command(), cwd=PROJECT_DIR, env=env, stdout=stdout, stderr=stderr
        )
    try:
        port = wait_for_port(stdout_path, process)
        secret_headers = {
            "Authorization": "Bearer tok-123",
            "X-Api-Key": "key-456",
            "Cookie": "sessionid=cookie-789",
        }
        answers = [
            send(port, "GET", "/health/live/", headers={"X-Request-ID": "gunicorn-ok-1"}),
            send(port, "GET", "/nowhere/?token=tok-123", headers=secret_headers),
            send(
                port,
                "POST",
                "/orders/",
                body=b'{"amount": "5.00", "password": "hunter2"}',
                headers={**secret_headers, "Content-Type": "application/json"},
            ),
        ]
    finally:
        process.terminate()
        process.wait(timeout=15)

    assert [status for status, _ in answers] == [200, 404, 500]
    assert answers[0][1] == "gunicorn-ok-1"
    output = stdout_path.read_text() + stderr_path.read_text()
    records = parse_json_lines(output)
    for record in records:
        assert_contract_fields(record, "staging", "2.0.1")
    loggers = {record["logger"] for record in records}
    assert "gunicorn.error" in loggers
    assert "gunicorn.access" not in loggers

    access = [r for r in records if r["logger"].endswith(".monitoring.access")]
    assert [(r["request_id"], r["status"]) for r in access] == [
        (request_id, status) for status, request_id in answers
    ]
    assert [r["level"] for r in access] == ["info", "warning", "error"]
    failed_id = answers[2][1]
    [error] = [r for r in records if "exception" in r]
    assert (error["request_id"], error["method"], error["path"]) == (failed_id, "POST", "/orders/")
    assert "OperationalError" in error["exception"]
    # Counting failed requests from the logs: only the access line carries `status`.
    assert [r["logger"] for r in records if r.get("status", 0) >= 500] == [access[2]["logger"]]
    assert error["status_code"] == 500
    for secret in SECRETS:
        assert secret not in output
    assert "HTTP_" not in output


def test_gunicorn_under_local_settings_writes_one_format(tmp_path):
    """`make demo` serves local settings with gunicorn: its lines and Django's look alike."""
    env = clean_env()  # local settings
    env.pop("LOG_FORMAT", None)
    stdout_path = tmp_path / "stdout"
    with open(stdout_path, "w") as stdout:
        process = subprocess.Popen(
            gunicorn_command(), cwd=PROJECT_DIR, env=env, stdout=stdout, stderr=subprocess.STDOUT
        )
    try:
        port = wait_for_port(stdout_path, process)
        assert send(port, "GET", "/health/live/", headers={})[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
    lines = [line for line in stdout_path.read_text().splitlines() if line.strip()]
    assert any("Booting worker" in line for line in lines)
    assert any("path=/health/live/" in line for line in lines)  # the access line
    for line in lines:
        assert not line.startswith("{"), f"a JSON line among console lines: {line}"
        assert re.match(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d", line), line


def test_unicode_line_separators_never_split_a_json_line(log_capture):
    """U+0085, U+2028 and U+2029 are escaped: shippers that split on them see one line."""
    path = "/search/a\u2028b\u0085c\u2029d/"
    logging.getLogger("tests.separators").warning("odd path %s", path, extra={"path": path})
    text = log_capture.text
    assert not any(char in text for char in "\u0085\u2028\u2029")
    [record] = [r for r in log_capture.records() if r["logger"] == "tests.separators"]
    assert (record["message"], record["path"]) == (f"odd path {path}", path)


def test_secrets_in_messages_and_exceptions_are_masked(log_capture):
    """Free text carries pairs behind harmless words, quoted or URL-encoded, and URLs."""
    secret = "LOG-SECRET-12"
    try:
        raise ValueError(f"Error: secret: {secret}, dsn redis://:{secret}@cache:6379/0")
    except ValueError:
        logging.getLogger("tests.free_text").exception(
            "login failed: Name: token=%s, next=%%2F%%3Fapi_key%%3D%s", secret, secret
        )
    assert secret not in log_capture.text
    [record] = [r for r in log_capture.records() if r["logger"] == "tests.free_text"]
    assert record["message"].startswith("login failed: Name: token=[Filtered], next=/?api_key=")
    assert "Error: secret: [Filtered], dsn redis://:[Filtered]@cache:6379/0" in record["exception"]


def test_the_values_of_secret_settings_are_masked_in_log_lines():
    """settings.REDACTED_SETTINGS: a credential that is a plain value (a webhook URL, the
    secret key) has no telling name around it, so the value itself is looked for."""
    secret = "s3cret-key-value-that-someone-pasted-into-an-error"
    code = (
        "import logging; logging.getLogger('app').warning('config dump: %s', "
        f"dict(key_of_something={secret!r}))"
    )
    env = clean_env(DJANGO_SECRET_KEY=secret, LOG_FORMAT="json")
    result = run_manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    [line] = [r for r in parse_json_lines(result.stdout + result.stderr) if r["logger"] == "app"]
    assert secret not in json.dumps(line)
    assert "[Filtered]" in line["message"]


def test_a_root_handler_added_by_an_integration_survives_logging_set_up_again(monkeypatch):
    """A Celery worker applies LOGGING again after Django's set-up (celery_process.py)."""
    monkeypatch.setattr(logs, "_extra_root_handlers", [])
    handler = logging.NullHandler()
    root = logging.getLogger()
    try:
        logs.add_root_handler(handler)
        logs.add_root_handler(handler)
        assert root.handlers.count(handler) == 1
        logs.configure_logging(settings.LOGGING)
        assert root.handlers.count(handler) == 1
    finally:
        root.removeHandler(handler)


def test_migrate_reports_its_progress_as_json_lines(tmp_path):
    env = clean_env(LOG_FORMAT="json", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = run_manage("migrate", "--noinput", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["logger"] for line in lines} == {"django.db.migrations.progress"}
    messages = [line["message"] for line in lines]
    # Django writes "Applying ..." and "OK" apart: one line still.
    assert "Applying orders.0001_initial... OK" in messages
    assert messages[0] == "Operations to perform:"


def test_migrate_keeps_django_s_own_text_in_the_console_format(tmp_path):
    env = clean_env(LOG_FORMAT="console", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = run_manage("migrate", "--noinput", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Operations to perform:\n")
    assert "  Applying orders.0001_initial... OK\n" in result.stdout
