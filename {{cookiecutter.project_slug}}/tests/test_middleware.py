"""RequestContextMiddleware: request ids, timing headers, access lines, client IP."""

import uuid

import pytest
from django.test import Client
from structlog.contextvars import bind_contextvars, get_contextvars

from {{ cookiecutter.project_slug }}.monitoring.context import on_context_bound

from .conftest import clean_env, run_manage, settings_values

ACCESS_LOGGER = "{{ cookiecutter.project_slug }}.monitoring.access"


def access_lines(records: list[dict]) -> list[dict]:
    return [record for record in records if record["logger"] == ACCESS_LOGGER]


def is_new_request_id(value: str) -> bool:
    return len(value) == 32 and uuid.UUID(hex=value).version == 4


@pytest.mark.parametrize("request_id", ["abc-123", "A.b_C-9", "x" * 64, "0"])
def test_valid_request_id_is_kept(client, log_capture, request_id):
    response = client.get("/health/live/", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] == request_id
    [line] = access_lines(log_capture.records())
    assert line["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        "abc\r\nX-Injected: yes",
        "abc\n",
        "x" * 65,
        "<script>alert(1)</script>",
        "has space",
        "ünïcode",
        "",
    ],
)
def test_invalid_request_id_is_replaced_by_a_uuid4(client, log_capture, request_id):
    response = client.get("/health/live/", HTTP_X_REQUEST_ID=request_id)
    new_id = response["X-Request-ID"]
    assert new_id != request_id
    assert is_new_request_id(new_id)
    [line] = access_lines(log_capture.records())
    assert line["request_id"] == new_id
    assert "<script>" not in log_capture.text
    assert "X-Injected" not in log_capture.text


def test_a_request_without_ids_is_traced_under_the_request_id_it_was_given(client, log_capture):
    """The minted request id is a valid trace id: one id minted per request, not two."""
    response = client.get("/health/live/")
    [line] = access_lines(log_capture.records())
    assert line["trace_id"] == line["request_id"] == response["X-Request-ID"]


def test_a_client_s_request_id_never_becomes_the_trace_id(client, log_capture):
    client.get("/health/live/", HTTP_X_REQUEST_ID="0123456789abcdef0123456789abcdef")
    [line] = access_lines(log_capture.records())
    assert line["request_id"] == "0123456789abcdef0123456789abcdef"
    assert line["trace_id"] != line["request_id"]
    assert len(line["trace_id"]) == 32 and int(line["trace_id"], 16)


@pytest.mark.parametrize("request_id", ["abc-123", "x" * 64])
def test_untrusted_request_id_is_replaced_and_kept_aside_on_the_access_line(
    client, settings, log_capture, request_id
):
    settings.TRUST_REQUEST_ID_HEADER = False
    response = client.get("/health/live/", HTTP_X_REQUEST_ID=request_id)
    new_id = response["X-Request-ID"]
    assert is_new_request_id(new_id)
    [line] = access_lines(log_capture.records())
    assert line["request_id"] == new_id
    assert line["client_request_id"] == request_id


def test_untrusted_invalid_request_id_is_not_written_anywhere(client, settings, log_capture):
    settings.TRUST_REQUEST_ID_HEADER = False
    response = client.get("/health/live/", HTTP_X_REQUEST_ID="abc\r\nX-Injected: yes")
    [line] = access_lines(log_capture.records())
    assert line["request_id"] == response["X-Request-ID"]
    assert "client_request_id" not in line
    assert "X-Injected" not in log_capture.text


def test_trusted_request_id_has_no_client_copy(client, log_capture):
    client.get("/health/live/", HTTP_X_REQUEST_ID="abc-123")
    [line] = access_lines(log_capture.records())
    assert "client_request_id" not in line


@pytest.mark.parametrize(
    ("value", "expected"), [("", "True"), ("false", "False"), ("0", "False"), ("on", "True")]
)
def test_request_id_trust_is_read_from_the_environment(value, expected):
    env = clean_env(TRUST_REQUEST_ID_HEADER=value) if value else clean_env()
    assert settings_values(env, "TRUST_REQUEST_ID_HEADER") == [expected]


def test_a_bad_request_id_trust_value_stops_startup():
    result = run_manage("check", env=clean_env(TRUST_REQUEST_ID_HEADER="maybe"))
    assert result.returncode != 0
    assert "TRUST_REQUEST_ID_HEADER is 'maybe'; use true or false." in result.stderr


def test_missing_request_id_gets_a_new_one_per_request(client):
    first = client.get("/health/live/")["X-Request-ID"]
    second = client.get("/health/live/")["X-Request-ID"]
    assert is_new_request_id(first)
    assert is_new_request_id(second)
    assert first != second


def test_duration_header_and_access_line(client, log_capture):
    response = client.get("/health/live/", REMOTE_ADDR="203.0.113.7")
    duration = float(response["X-Request-Duration"])
    assert duration >= 0
    [line] = access_lines(log_capture.records())
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["path"] == "/health/live/"
    assert line["status"] == 200
    assert line["duration_ms"] == duration
    assert line["client_ip"] == "203.0.113.7"
    assert line["request_id"] == response["X-Request-ID"]
    assert "slow" not in line


def test_context_does_not_leak_after_the_request(client):
    client.get("/health/live/", HTTP_X_REQUEST_ID="leak-check")
    assert get_contextvars() == {}


@pytest.mark.urls("tests.support.error_urls")
def test_keys_bound_during_the_request_are_cleared_with_its_ids(client, log_capture):
    """Not only the middleware's own ids: a view's keys and a hook's go too."""

    def hook(bound: dict[str, str]) -> None:
        bind_contextvars(span_id="00f067aa0ba902b7")

    on_context_bound.append(hook)
    try:
        client.get("/binds/")
    finally:
        on_context_bound.remove(hook)
    [line] = access_lines(log_capture.records())
    assert (line["user_id"], line["span_id"]) == ("u-7", "00f067aa0ba902b7")
    assert get_contextvars() == {}
    client.get("/health/live/")
    [_, next_line] = access_lines(log_capture.records())
    assert "user_id" not in next_line and "span_id" not in next_line


@pytest.mark.django_db
def test_client_errors_are_warnings_with_one_line(client, log_capture):
    response = client.get("/orders/999999/")
    assert response.status_code == 404
    records = log_capture.records()
    [line] = access_lines(records)
    assert line["level"] == "warning"
    assert line["status"] == 404
    # Django's own "Not Found" line is dropped: the access line says it all.
    assert [r for r in records if r["logger"] == "django.request"] == []


@pytest.mark.urls("tests.support.error_urls")
def test_unhandled_exception_is_logged_once_with_context(log_capture):
    client = Client(raise_request_exception=False)
    response = client.get(
        "/boom/?token=query-secret",
        HTTP_X_REQUEST_ID="boom-1",
        HTTP_AUTHORIZATION="Bearer header-secret",
        HTTP_COOKIE="sessionid=cookie-secret",
    )
    assert response.status_code == 500
    assert response["X-Request-ID"] == "boom-1"
    records = log_capture.records()
    with_traceback = [r for r in records if "exception" in r]
    assert len(with_traceback) == 1
    [error] = with_traceback
    assert error["level"] == "error"
    assert error["request_id"] == "boom-1"
    assert error["method"] == "GET"
    assert error["path"] == "/boom/"
    assert "RuntimeError: charge failed for customer [Filtered]" in error["exception"]
    [access] = access_lines(records)
    assert access["level"] == "error"
    assert access["status"] == 500
    assert len(records) == 2
    for secret in ("query-secret", "header-secret", "cookie-secret", "jane.doe@example.com"):
        assert secret not in log_capture.text
    assert "HTTP_" not in log_capture.text


@pytest.mark.urls("tests.support.error_urls")
def test_slow_request_is_a_warning(client, settings, log_capture):
    settings.SLOW_REQUEST_THRESHOLD_MS = 10
    client.get("/slow/")
    [line] = access_lines(log_capture.records())
    assert line["level"] == "warning"
    assert line["slow"] is True
    assert line["message"] == "slow request"
    assert line["duration_ms"] > 10


@pytest.mark.parametrize(
    ("trusted", "forwarded_for", "expected"),
    [
        # No trusted proxy: X-Forwarded-For is the client's word, ignored.
        (0, "198.51.100.1", "203.0.113.7"),
        # One proxy: it appended the address it saw; what's left of it is spoofable.
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 192.0.2.10", "198.51.100.1"),
        (1, "2001:db8::1", "2001:db8::1"),
        # Fewer hops than proxies, or garbage: not from our proxies.
        (2, "198.51.100.1", "203.0.113.7"),
        (1, "not-an-ip", "203.0.113.7"),
        (1, "", "203.0.113.7"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxy_hops(
    client, settings, log_capture, trusted, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = trusted
    client.get("/health/live/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=forwarded_for)
    [line] = access_lines(log_capture.records())
    assert line["client_ip"] == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLOW_REQUEST_THRESHOLD_MS", "fast"),
        ("SLOW_REQUEST_THRESHOLD_MS", "-1"),
        ("TRUSTED_PROXY_COUNT", "1.5"),
        ("TRUSTED_PROXY_COUNT", "-2"),
    ],
)
def test_bad_middleware_variables_stop_startup(name, value):
    # Parsed and checked once, by the settings: every process refuses them, not only the web.
    result = run_manage("check", env=clean_env(**{name: value}))
    assert result.returncode != 0
    assert f"{name} must be a whole number >= 0" in result.stderr


def test_line_separators_in_a_path_are_escaped_in_the_access_line(client, log_capture):
    """Shippers that split lines on U+2028, U+2029 or U+0085 still see one access line."""
    path = "/nowhere/a\u2028b\u2029c\u0085d/"
    assert client.get(path).status_code == 404
    assert not any(char in log_capture.text for char in "\u0085\u2028\u2029")
    [line] = access_lines(log_capture.records())
    assert line["path"] == path


def test_a_password_reset_token_in_the_path_is_masked_in_the_access_line(client, log_capture):
    assert client.get("/accounts/reset/MQ/c4k9x2-reset-token-77/").status_code == 404
    assert "reset-token-77" not in log_capture.text
    [line] = access_lines(log_capture.records())
    assert line["path"] == "/accounts/reset/[Filtered]/[Filtered]/"
