"""The Sentry webhook receiver: each answer of the contract, and never a 500.

Accepted alerts are stored in the outbox (PostgreSQL in CI): every test has the
database; those that follow an alert to its channel commit (transaction=True), as
the outbox queues deliveries on commit.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from {{ cookiecutter.project_slug }}.alerting.alerts import (
    Alert,
    Severity,
)
from {{ cookiecutter.project_slug }}.alerting.models import AlertRecord
from {{ cookiecutter.project_slug }}.alerting.payloads import parse_alert
from {{ cookiecutter.project_slug }}.alerting.webhooks import MAX_BODY_BYTES

from ..conftest import child_database_url, clean_env, settings_values
from ..support.live_server import gunicorn

pytestmark = pytest.mark.django_db

SECRET = "test-webhook-secret-0123456789"
URL = "/webhooks/sentry/"


NO_CHANNELS = {"SLACK_WEBHOOK_URL": "", "PAGERDUTY_ROUTING_KEY": "", "ALERT_EMAILS": ""}


@pytest.fixture(autouse=True)
def webhook_secret(settings, inline_tasks):
    settings.SENTRY_WEBHOOK_SECRET = SECRET
    # Whatever a developer's .env says, tests alert nobody.
    settings.SLACK_WEBHOOK_URL = settings.PAGERDUTY_ROUTING_KEY = ""
    settings.ALERT_EMAILS = []


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: object) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def deliver(
    client: Client,
    payload: object,
    *,
    resource: str = "issue",
    signature: str | None = None,
    timestamp: str | None = None,
    request_id: str | None = None,
    method: str = "POST",
    **extra: object,
):
    body = encode(payload)
    headers = {
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(time.time())) if timestamp is None else timestamp,
        "Sentry-Hook-Signature": sign(body) if signature is None else signature,
        "Request-ID": request_id or str(uuid.uuid4()),
    }
    headers = {name: value for name, value in headers.items() if value != "<absent>"}
    return client.generic(
        method, URL, body, content_type="application/json", headers=headers, **extra
    )


# Trimmed copies of the payloads Sentry documents; "nonce" keeps bodies unique
# across runs (the outbox remembers body digests, ALERT_RETENTION_DAYS).
def event_alert(level: str = "error", *extra_tags: list[str]) -> dict:
    return {
        "action": "triggered",
        "nonce": uuid.uuid4().hex,
        "data": {
            "event": {
                "event_id": "e4874d664c3540c1a32eab185f12c5ab",
                "issue_id": "1117540176",
                "level": level,
                "project": 1,
                "title": "ReferenceError: heck is not defined",
                "url": "https://sentry.io/api/0/projects/test-org/front-end/events/e4874d66/",
                "web_url": "https://sentry.io/organizations/test-org/issues/1117540176/events/e48/",
                "tags": [["level", level], ["environment", "production"], *extra_tags],
            },
            "triggered_rule": "Very Important Alert Rule!",
            "issue_alert": {"title": "Very Important Alert Rule!", "settings": []},
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    }


def metric_alert(action: str) -> dict:
    return {
        "action": action,
        "nonce": uuid.uuid4().hex,
        "data": {
            "description_text": "1000 events in the last 10 minutes\nFilter: level:error",
            "description_title": f"{action.title()}: Too many errors",
            "metric_alert": {
                "alert_rule": {"id": "7", "name": "Too many errors", "environment": "staging"},
                "id": "4",
                "projects": ["bar"],
                "status": 2,
            },
            "web_url": "https://sentry.io/organizations/baz/alerts/1/",
        },
    }


def issue(action: str) -> dict:
    return {
        "action": action,
        "nonce": uuid.uuid4().hex,
        "data": {
            "issue": {
                "id": "1170820242",
                "level": "error",
                "project": {"id": "1", "name": "front-end", "slug": "front-end"},
                "shortId": "FRONT-END-9",
                "title": "ReferenceError: blooopy is not defined",
                "web_url": "https://sentry.io/organizations/test-org/issues/1170820242/",
            }
        },
    }


def installation(action: str) -> dict:
    return {
        "action": action,
        "nonce": uuid.uuid4().hex,
        "data": {
            "installation": {
                "organization": {"slug": "test-org"},
                "uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de",
            }
        },
    }


# (resource, payload, severity, title, url, project, environment, fingerprint)
CASES = [
    (
        "event_alert", event_alert("error"), Severity.WARNING,
        "Very Important Alert Rule!: ReferenceError: heck is not defined",
        "https://sentry.io/organizations/test-org/issues/1117540176/events/e48/",
        "front-end", "production", "sentry-issue-1117540176",
    ),
    (
        "event_alert", event_alert("fatal"), Severity.CRITICAL,
        "Very Important Alert Rule!: ReferenceError: heck is not defined",
        "https://sentry.io/organizations/test-org/issues/1117540176/events/e48/",
        "front-end", "production", "sentry-issue-1117540176",
    ),
    (  # the fatal-or-critical rule of deploy/sentry/alerts.yaml: a tag pages too
        "event_alert", event_alert("error", ["severity", "critical"]), Severity.CRITICAL,
        "Very Important Alert Rule!: ReferenceError: heck is not defined",
        "https://sentry.io/organizations/test-org/issues/1117540176/events/e48/",
        "front-end", "production", "sentry-issue-1117540176",
    ),
    (
        "metric_alert", metric_alert("critical"), Severity.CRITICAL, "Critical: Too many errors",
        "https://sentry.io/organizations/baz/alerts/1/", "bar", "staging",
        "sentry-metric-alert-4",
    ),
    (
        "metric_alert", metric_alert("warning"), Severity.WARNING, "Warning: Too many errors",
        "https://sentry.io/organizations/baz/alerts/1/", "bar", "staging",
        "sentry-metric-alert-4",
    ),
    (
        "metric_alert", metric_alert("resolved"), Severity.RESOLVED, "Resolved: Too many errors",
        "https://sentry.io/organizations/baz/alerts/1/", "bar", "staging",
        "sentry-metric-alert-4",
    ),
    (
        "issue", issue("created"), Severity.INFO,
        "New issue: ReferenceError: blooopy is not defined",
        "https://sentry.io/organizations/test-org/issues/1170820242/", "front-end", "",
        "sentry-issue-1170820242",
    ),
    (
        "issue", {**issue("unresolved"), "data": {"issue": {
            **issue("unresolved")["data"]["issue"], "substatus": "regressed"}}},
        Severity.WARNING, "Regression: ReferenceError: blooopy is not defined",
        "https://sentry.io/organizations/test-org/issues/1170820242/", "front-end", "",
        "sentry-issue-1170820242",
    ),
    (
        "issue", issue("resolved"), Severity.RESOLVED,
        "Resolved: ReferenceError: blooopy is not defined",
        "https://sentry.io/organizations/test-org/issues/1170820242/", "front-end", "",
        "sentry-issue-1170820242",
    ),
    (
        "installation", installation("created"), Severity.INFO,
        "Sentry integration installed (test-org)", "", "", "",
        "sentry-installation-a8e5d37a-696c-4c54-adb5-b3f28d64c7de",
    ),
    (
        "installation", installation("deleted"), Severity.WARNING,
        "Sentry integration removed: Sentry alerts stop here (test-org)", "", "", "",
        "sentry-installation-a8e5d37a-696c-4c54-adb5-b3f28d64c7de",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "payload", "severity", "title", "url", "project", "environment", "fingerprint"),
    CASES,
)
def test_each_resource_becomes_one_alert(
    resource, payload, severity, title, url, project, environment, fingerprint
):
    alert = parse_alert(resource, payload, alert_id="abc")
    assert alert == Alert(
        id="abc", title=title, severity=severity, url=url, project=project,
        environment=environment, fingerprint=fingerprint,
    )  # fmt: skip


@pytest.mark.parametrize(("resource", "payload"), [case[:2] for case in CASES])
def test_signed_payloads_are_accepted_at_once(client, resource, payload):
    body = encode({**payload, "nonce": uuid.uuid4().hex})
    response = deliver(client, body, resource=resource)
    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "alert_id": hashlib.sha256(body).hexdigest(),
    }


@pytest.mark.django_db(transaction=True)
def test_an_accepted_new_issue_reaches_the_alert_emails(client, settings):
    settings.ALERT_EMAILS = ["ops@example.com"]
    response = deliver(client, issue("created"), resource="issue")
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com"]
    assert message.subject == "[INFO] New issue: ReferenceError: blooopy is not defined"
    assert "https://sentry.io/organizations/test-org/issues/1170820242/" in message.body
    record = AlertRecord.objects.get(alert_id=response.json()["alert_id"])
    assert (record.source, record.severity) == ("sentry", "info")
    assert [(item.channel, item.status) for item in record.deliveries.all()] == [("email", "sent")]


@pytest.mark.parametrize(
    ("resource", "payload"),
    [
        ("issue", issue("assigned")),
        ("issue", issue("archived")),
        ("metric_alert", metric_alert("unknown")),
        ("event_alert", {**event_alert(), "action": "resolved"}),
        ("comment", {"action": "created", "data": {}}),
        ("", {"action": "created", "data": {}}),
    ],
)
def test_resources_without_an_alert_are_acknowledged_and_ignored(client, resource, payload, caplog):
    with caplog.at_level(logging.DEBUG, logger="{{ cookiecutter.project_slug }}.alerting.webhooks"):
        response = deliver(client, payload, resource=resource)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    [line] = [r.msg for r in caplog.records if "raises no alert" in str(r.msg)]
    assert (line["resource"], line["action"]) == (resource, payload["action"])


@pytest.mark.parametrize(
    ("projects", "status"),
    [([], 202), (["*"], 202), (["1"], 202), (["front-end"], 202), (["2", "back-end"], 200)],
)
def test_issue_webhooks_of_other_projects_are_ignored(client, settings, projects, status, caplog):
    settings.SENTRY_WEBHOOK_PROJECTS = projects
    response = deliver(client, issue("created"), resource="issue")
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"status": "ignored"}
        assert any("not in SENTRY_WEBHOOK_PROJECTS" in str(r.msg) for r in caplog.records)
    # Alert rules' webhooks are never filtered: a rule is about its own projects.
    assert deliver(client, metric_alert("critical"), resource="metric_alert").status_code == 202


def test_the_projects_default_to_the_dsn_s_own():
    dsn = clean_env(SENTRY_DSN="https://key@o1.ingest.sentry.io/4507")
    dsn.pop("SENTRY_WEBHOOK_PROJECTS", None)
    assert settings_values(dsn, "SENTRY_WEBHOOK_PROJECTS") == ["['4507']"]
    chosen = {**dsn, "SENTRY_WEBHOOK_PROJECTS": "shop,4508"}
    assert settings_values(chosen, "SENTRY_WEBHOOK_PROJECTS") == ["['shop', '4508']"]


@pytest.mark.parametrize(
    "signature",
    [
        "<absent>",
        "",
        "0" * 64,
        sign(b"another body"),
        "<signed with another secret>",
        "é" * 64,
        "zz",
    ],
)
def test_bad_or_missing_signatures_get_401(client, signature):
    body = encode(issue("created"))
    if signature == "<signed with another secret>":
        signature = sign(body, "another-secret")
    response = deliver(client, body, signature=signature)
    assert response.status_code == 401
    assert "Sentry-Hook-Signature" in response.json()["error"]


def test_signature_is_checked_on_the_exact_bytes(client):
    body = json.dumps(issue("created"), indent=2).encode()
    tampered = body.replace(b"blooopy", b"BLOOOPY")
    response = deliver(client, tampered, signature=sign(body))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "timestamp",
    [
        "-330s",
        "+330s",
        "<absent>",
        "",
        "yesterday",
        "nan",
        "inf",
        "1e10",
        "-5",
        "1" * 13,
    ],
)
def test_stale_missing_or_garbled_timestamps_get_400(client, timestamp):
    if timestamp.endswith("s"):
        timestamp = str(int(time.time()) + int(timestamp[:-1]))
    response = deliver(client, issue("created"), timestamp=timestamp)
    assert response.status_code == 400
    assert "Sentry-Hook-Timestamp" in response.json()["error"]


def test_timestamps_within_five_minutes_are_accepted(client):
    for offset in (-290, 290):
        response = deliver(client, issue("created"), timestamp=str(int(time.time()) + offset))
        assert response.status_code == 202


def test_a_replayed_request_id_is_ignored(client):
    request_id = str(uuid.uuid4())
    first = deliver(client, issue("created"), request_id=request_id)
    again = deliver(client, issue("created"), request_id=request_id)
    assert first.status_code == 202
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})


def test_a_replayed_body_is_ignored_even_with_a_new_request_id(client):
    # Sentry signs the body only: an attacker can change the other headers.
    body = encode(issue("created"))
    assert deliver(client, body).status_code == 202
    cache.clear()  # a Redis restarted empty: the guard is the outbox, not the cache
    again = deliver(client, body, timestamp=str(int(time.time()) + 60), request_id="new")
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert AlertRecord.objects.filter(alert_id=hashlib.sha256(body).hexdigest()).count() == 1


def test_a_replayed_body_older_than_the_outbox_keeps_is_stale(client, settings):
    """Past ALERT_RETENTION_DAYS the digest is forgotten: the event's own time refuses it."""
    old = datetime.now(UTC) - timedelta(days=settings.ALERT_RETENTION_DAYS, hours=1)
    stale = (("event_alert", event_alert()), ("metric_alert", metric_alert("critical")))
    for resource, payload in stale:
        if resource == "event_alert":
            payload["data"]["event"]["datetime"] = old.isoformat().replace("+00:00", "Z")
        else:
            payload["data"]["metric_alert"]["date_detected"] = old.isoformat()
        response = deliver(client, payload, resource=resource)
        assert (response.status_code, response.json()) == (200, {"status": "stale"}), resource
    recent = event_alert()
    recent["data"]["event"]["datetime"] = datetime.now(UTC).isoformat()
    assert deliver(client, recent, resource="event_alert").status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"action": ' + b"9" * 5000 + b"}",
    ],
    ids=["empty", "cut", "text", "not-utf8", "array", "string", "null", "deep", "huge-int"],
)
def test_malformed_json_gets_400(client, body):
    response = deliver(client, body)
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_other_methods_get_405(client, method):
    response = client.generic(method, URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_a_body_over_1_mib_gets_413(client):
    body = b"x" * (MAX_BODY_BYTES + 1)
    response = deliver(client, body)
    assert response.status_code == 413


def test_a_body_of_exactly_1_mib_is_read(client):
    body = b" " * (MAX_BODY_BYTES - 2) + b"{}"
    response = deliver(client, body, resource="comment")
    assert (response.status_code, response.json()) == (200, {"status": "ignored"})


class EndlessStream(io.RawIOBase):
    """A request body that never ends; counts what the view reads."""

    def __init__(self) -> None:
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else size
        self.consumed += size
        return b"x" * size


def test_a_declared_length_over_1_mib_is_refused_without_reading(client):
    stream = EndlessStream()
    response = client.generic(
        "POST", URL, b"", CONTENT_LENGTH=str(50 * MAX_BODY_BYTES), **{"wsgi.input": stream}
    )
    assert response.status_code == 413
    assert stream.consumed == 0


def test_an_endless_chunked_body_is_cut_at_1_mib(client):
    stream = EndlessStream()
    response = client.generic(
        "POST", URL, b"", **{"wsgi.input": stream, "wsgi.input_terminated": True}
    )
    assert response.status_code == 413
    assert MAX_BODY_BYTES < stream.consumed <= MAX_BODY_BYTES + 1


class BrokenStream(io.RawIOBase):
    """A body that breaks off after a few bytes, as a bad chunk size does in the server."""

    def __init__(self) -> None:
        self.sent = False

    def read(self, size: int = -1) -> bytes:
        if not self.sent:
            self.sent = True
            return b'{"action": '
        raise OSError("Invalid chunk size")


@pytest.mark.parametrize("length", ["", "64"])
def test_a_body_that_breaks_off_gets_400_and_a_log_line(client, length, caplog):
    extra = {"wsgi.input": BrokenStream()}
    if length:
        extra["CONTENT_LENGTH"] = length
    else:
        extra["wsgi.input_terminated"] = True
    response = client.generic("POST", URL, b"", **extra)
    assert response.status_code == 400
    assert response.json() == {"error": "The body could not be read."}
    assert "Sentry webhook body could not be read" in caplog.text


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", " 12", "²", "١٢"])
def test_an_invalid_content_length_gets_400(client, length):
    response = client.generic("POST", URL, b"{}", CONTENT_LENGTH=length)
    assert response.status_code == 400


def test_without_a_secret_the_receiver_answers_503(client, settings):
    settings.SENTRY_WEBHOOK_SECRET = ""
    response = deliver(client, issue("created"))
    assert response.status_code == 503
    assert "SENTRY_WEBHOOK_SECRET" in response.json()["error"]
    assert client.get(URL).status_code == 405


def random_json(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "float", "bool", "none"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "dict":
        keys = ["action", "data", "event", "issue", "metric_alert", "alert_rule", "level",
                "title", "web_url", "url", "projects", "project", "tags", "id", "installation",
                "organization", "slug", "environment", "triggered_rule", "issue_alert"]  # fmt: skip
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    return {
        "str": lambda: rng.choice(["", "critical", "triggered", "created", "javascript:x", "é"]),
        "int": lambda: rng.randint(-(10**12), 10**12),
        "float": lambda: rng.choice([0.5, -1e308, 1e308]),
        "bool": lambda: rng.choice([True, False]),
        "none": lambda: None,
    }[kind]()


def test_random_input_never_gets_a_500(client):
    rng = random.Random(20240601)
    resources = ["event_alert", "metric_alert", "issue", "installation", "comment", "", "é"]
    actions = ["triggered", "critical", "warning", "resolved", "created", "deleted"]
    statuses = set()
    for _ in range(300):
        if rng.random() < 0.5:
            body = rng.randbytes(rng.randint(0, 3000))
        else:
            body = json.dumps(
                {
                    "action": rng.choice([*actions, random_json(rng)]),
                    "data": random_json(rng),
                    "nonce": uuid.uuid4().hex,  # not a replay of an earlier run
                }
            ).encode()
        response = deliver(
            client, body, resource=rng.choice(resources),
            signature=sign(body) if rng.random() < 0.8 else rng.randbytes(8).hex(),
            timestamp=rng.choice([None, None, None, "0", "x"]),
        )  # fmt: skip
        statuses.add(response.status_code)
    assert statuses <= {200, 202, 400, 401}
    assert {202, 400, 401} <= statuses


@pytest.mark.django_db(transaction=True)  # gunicorn stores the alert: emptied afterwards
def test_over_real_http_a_chunked_body_is_read_and_a_big_declared_one_refused():
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.test", SENTRY_WEBHOOK_SECRET=SECRET,
        DATABASE_URL=child_database_url(), **NO_CHANNELS,
    )  # fmt: skip
    with gunicorn(env) as url:
        address = urlsplit(url)
        body = encode(issue("created"))
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        conn.request(
            "POST", URL, body=iter([body[:50], body[50:]]), encode_chunked=True,
            headers={
                "Content-Type": "application/json",
                "Sentry-Hook-Resource": "issue",
                "Sentry-Hook-Timestamp": str(int(time.time())),
                "Sentry-Hook-Signature": sign(body),
            },
        )  # fmt: skip
        response = conn.getresponse()
        assert response.status == 202, response.read()
        assert json.loads(response.read())["status"] == "accepted"
        conn.close()

        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        conn.putrequest("POST", URL)
        conn.putheader("Content-Length", str(100 * MAX_BODY_BYTES))
        conn.endheaders()  # the body never comes: the answer must not wait for it
        response = conn.getresponse()
        assert response.status == 413
        conn.close()

        # A malformed chunk size: gunicorn's parser fails while the view reads.
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        conn.putrequest("POST", URL)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"zz\r\n{}\r\n0\r\n\r\n")
        response = conn.getresponse()
        assert response.status == 400, response.read()
        conn.close()
