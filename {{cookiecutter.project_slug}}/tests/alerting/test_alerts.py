"""Alert delivery: routing by severity, retries, give-up, no duplicates.

Slack and PagerDuty are stub HTTP servers on loopback; delivery runs in a real
Celery worker on Redis. E-mail runs eagerly in-process (locmem backend). The
outbox under faults (broker restarts, killed workers, hung channels) is
test_outbox.py's.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from {{ cookiecutter.project_slug }}.alerting import (
    outbox,
    tasks,
)
from {{ cookiecutter.project_slug }}.alerting.alerts import (
    Alert,
    Severity,
)
from {{ cookiecutter.project_slug }}.alerting.channels import (
    CHANNELS,
    PagerDutyChannel,
    SlackChannel,
    parse_retry_after,
)
from {{ cookiecutter.project_slug }}.alerting.models import Delivery
from {{ cookiecutter.project_slug }}.alerting.outbox import record_alert
from {{ cookiecutter.project_slug }}.alerting.tasks import (
    deliver_alert,
    dispatch_alert,
    send_delivery,
)

from ..conftest import (
    child_database_url,
    clean_env,
    run_manage,
    running_celery_worker,
    worker_log_path,
)
from ..support.loopback import Reply, StubServer, stub_server
from .test_webhooks import deliver, metric_alert, sign

ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
PD_OK = Reply(202, {"status": "success", "message": "Event processed"})


def make_alert(severity: Severity, **fields: str) -> Alert:
    marker = uuid.uuid4().hex
    values = {
        "id": marker,
        "title": f"Checkout errors {marker}",
        "severity": severity,
        "url": "https://sentry.io/organizations/acme/issues/42/",
        "project": "shop",
        "environment": "production",
        "fingerprint": f"sentry-issue-{marker}",
        **fields,
    }
    return Alert(**values)


@pytest.fixture(autouse=True)
def no_real_channels(settings):
    # Whatever a developer's .env says, the test process alerts nobody.
    settings.SLACK_WEBHOOK_URL = settings.PAGERDUTY_ROUTING_KEY = ""
    settings.ALERT_EMAILS = []


# Pure parts ------------------------------------------------------------------


def test_alert_values_are_cleaned():
    alert = Alert(
        id="x", title="line one\nline two " + "y" * 400, severity="critical",
        url="javascript:alert(1)", project="p",
    )  # fmt: skip
    assert alert.severity is Severity.CRITICAL
    assert "\n" not in alert.title and len(alert.title) == 300
    assert alert.url == ""
    assert alert.fingerprint == "x"  # defaults to the id
    assert Alert.from_dict(alert.to_dict()) == alert


def test_slack_text_is_escaped():
    alert = make_alert(Severity.WARNING, title="<!channel> boom & <https://evil|click>")
    text = SlackChannel.message(alert)["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; boom &amp; &lt;https://evil|click&gt;" in text
    assert "<https://sentry.io/organizations/acme/issues/42/|Details>" in text


def test_pagerduty_events(settings):
    settings.PAGERDUTY_ROUTING_KEY = ROUTING_KEY
    alert = make_alert(Severity.CRITICAL)
    assert PagerDutyChannel.event(alert) == {
        "routing_key": ROUTING_KEY,
        "dedup_key": alert.fingerprint,
        "event_action": "trigger",
        "payload": {
            "summary": alert.title,
            "source": "shop",
            "severity": "critical",
            "custom_details": {"environment": "production", "project": "shop"},
        },
        "links": [{"href": alert.url, "text": "Details"}],
    }
    resolved = Alert(**{**alert.to_dict(), "severity": "resolved"})
    assert PagerDutyChannel.event(resolved) == {
        "routing_key": ROUTING_KEY,
        "dedup_key": alert.fingerprint,
        "event_action": "resolve",
    }


def test_retry_after_header():
    assert parse_retry_after("7") == 7
    in_30s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < parse_retry_after(in_30s) <= 30
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_is_exponential_with_jitter_and_respects_retry_after(settings):
    settings.ALERT_RETRY_BACKOFF, settings.ALERT_RETRY_BACKOFF_MAX = 10.0, 600.0
    for attempt, low, high in [(1, 5, 10), (3, 20, 40), (10, 300, 600)]:
        delays = {tasks.backoff_seconds(attempt) for _ in range(50)}
        assert all(low <= delay <= high for delay in delays)
        assert len(delays) > 1  # jitter
    assert tasks.backoff_seconds(1, retry_after=120) >= 120
    assert tasks.backoff_seconds(1, retry_after=10**6) == tasks.RETRY_AFTER_MAX


# E-mail, eagerly in-process (committed rows: the outbox queues on commit) -----


def deliveries_of(alert: Alert) -> dict[str, Delivery]:
    return {item.channel: item for item in Delivery.objects.filter(alert__alert_id=alert.id)}


@pytest.mark.usefixtures("inline_tasks")
@pytest.mark.django_db(transaction=True)
def test_info_alerts_are_emailed_once(settings):
    settings.ALERT_EMAILS = ["ops@example.com", "dev@example.com"]
    alert = make_alert(Severity.INFO)
    assert dispatch_alert.delay(alert.to_dict()).get() == ["email"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com", "dev@example.com"]
    assert message.subject == f"[INFO] {alert.title}"
    assert "Project: shop" in message.body and alert.url in message.body
    email = deliveries_of(alert)["email"]
    assert (email.status, email.attempts) == ("sent", 1) and email.sent_at
    # The same delivery handed out again, the same alert again: nothing more is sent.
    assert send_delivery.delay(email.pk).get() == "done"
    assert dispatch_alert.delay(alert.to_dict()).get() == []
    assert len(mail.outbox) == 1


@pytest.mark.usefixtures("inline_tasks")
@pytest.mark.django_db(transaction=True)
def test_an_alert_without_enabled_channels_goes_nowhere():
    assert dispatch_alert.delay(make_alert(Severity.CRITICAL).to_dict()).get() == []
    # A channel switched off after its delivery was recorded: given up, with the reason.
    alert = make_alert(Severity.WARNING)
    record_alert(alert, source="test", channels=[CHANNELS["slack"]])
    slack = deliveries_of(alert)["slack"]
    assert (slack.status, slack.last_error) == ("failed", "the channel is switched off")


@pytest.mark.usefixtures("inline_tasks")
@pytest.mark.django_db(transaction=True)
def test_a_message_queued_before_the_outbox_is_taken_in_once(settings):
    settings.ALERT_EMAILS = ["ops@example.com"]
    alert = make_alert(Severity.INFO)
    for _ in range(2):  # the old message, and the broker handing it out again
        deliver_alert.delay("email", alert.to_dict(), 2)
    assert len(mail.outbox) == 1
    record = deliveries_of(alert)["email"]
    assert (record.status, record.alert.source) == ("sent", "upgrade")


@pytest.fixture
def eager_like_local_development(inline_tasks):
    """Inline as without a broker: retries run at once and are not raised to the caller."""
    conf = send_delivery.app.conf
    previous, conf.task_eager_propagates = conf.task_eager_propagates, False
    yield
    conf.task_eager_propagates = previous


@pytest.mark.usefixtures("eager_like_local_development")
@pytest.mark.django_db(transaction=True)
def test_an_unreachable_mail_server_is_retried_then_given_up(settings):
    """A mail server that hangs up at once: one connection per try, then a give-up."""
    connections = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)

    def hang_up() -> None:
        while listener.fileno() != -1:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            connections.append(conn)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", listener.getsockname()[1]
    settings.ALERT_EMAILS = ["ops@example.com"]
    # The defaults: inline, a retry can't wait for its back-off and is taken at once.
    settings.ALERT_RETRY_BACKOFF, settings.ALERT_RETRY_BACKOFF_MAX = 10.0, 600.0
    alert = make_alert(Severity.INFO)
    try:
        record_alert(alert, source="test")
    finally:
        listener.close()
    email = deliveries_of(alert)["email"]
    assert (email.status, email.attempts) == ("failed", settings.ALERT_MAX_TRIES)
    assert email.last_error.startswith("mail error")
    assert len(connections) == settings.ALERT_MAX_TRIES


@pytest.mark.usefixtures("eager_like_local_development")
@pytest.mark.django_db(transaction=True)
def test_a_delivery_claimed_by_another_worker_is_left_to_it(settings):
    settings.ALERT_EMAILS = ["ops@example.com"]
    alert = make_alert(Severity.INFO)
    with pytest.MonkeyPatch.context() as patch:  # recorded, not queued
        patch.setattr("{{ cookiecutter.project_slug }}.alerting.outbox.queue_deliveries", lambda rows: None)
        [email] = record_alert(alert, source="test")
    later = timezone.now() + timedelta(seconds=60)
    Delivery.objects.filter(pk=email.pk).update(status="sending", claimed_until=later)
    assert send_delivery.delay(email.pk).get() == "claimed"
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_a_channel_at_once_keep_to_its_concurrency(settings):
    """Four workers each claim another row of one channel at the same instant, in rounds:
    at most ALERT_CHANNEL_CONCURRENCY (1) of them may send."""
    settings.ALERT_EMAILS = ["ops@example.com"]
    with pytest.MonkeyPatch.context() as patch:  # recorded, not queued
        patch.setattr("{{ cookiecutter.project_slug }}.alerting.outbox.queue_deliveries", lambda rows: None)
        rows = [record_alert(make_alert(Severity.INFO), source="test")[0] for _ in range(4)]
    ids = [row.pk for row in rows]

    def claim_together(start: threading.Barrier, results: list[object], pk: int) -> None:
        try:
            start.wait(timeout=10)
            results.append(outbox.claim(pk))
        finally:
            connection.close()  # each thread has a connection of its own

    for _ in range(10):
        Delivery.objects.filter(pk__in=ids).update(status="pending", claimed_until=None)
        start, results = threading.Barrier(len(ids)), []
        threads = [threading.Thread(target=claim_together, args=(start, results, pk)) for pk in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(results) == len(ids)
        claimed = [result for result in results if isinstance(result, outbox.Claim)]
        assert len(claimed) == 1, results
        assert Delivery.objects.filter(pk__in=ids, status="sending").count() == 1


# Slack and PagerDuty through a real worker -----------------------------------


@pytest.fixture(scope="module")
def slack():
    with stub_server() as server:
        yield server


@pytest.fixture(scope="module")
def pagerduty():
    with stub_server(lambda received: PD_OK) as server:
        yield server


@pytest.fixture(scope="module")
def alert_worker(django_db_setup, worker_queue, slack, pagerduty):
    """A worker whose settings point the channels at the stubs."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    env = {
        "SLACK_WEBHOOK_URL": f"{slack.url}/services/T000/B000/secret",
        "PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
        "PAGERDUTY_EVENTS_URL": f"{pagerduty.url}/v2/enqueue",
        "ALERT_EMAILS": "",
    }
    with running_celery_worker(f"{worker_queue}-alerts", env) as process:
        yield process


@pytest.fixture
def stubs(alert_worker, slack, pagerduty) -> tuple[StubServer, StubServer]:
    slack.reset()
    pagerduty.reset()
    return slack, pagerduty


def worker_log(worker_queue: str) -> str:
    return worker_log_path(f"{worker_queue}-alerts").read_text()


@pytest.mark.worker
def test_critical_alerts_page_pagerduty_and_post_to_slack(stubs):
    slack, pagerduty = stubs
    alert = make_alert(Severity.CRITICAL)
    assert dispatch_alert.delay(alert.to_dict()).get(timeout=10) == ["pagerduty", "slack"]
    [page] = pagerduty.wait_for(alert.id, 1)
    [post] = slack.wait_for(alert.id, 1)
    assert page.path == "/v2/enqueue"
    assert page.json()["event_action"] == "trigger"
    assert page.json()["routing_key"] == ROUTING_KEY
    assert page.json()["dedup_key"] == alert.fingerprint
    assert page.json()["payload"]["summary"] == alert.title
    assert post.path == "/services/T000/B000/secret"
    assert post.headers["Content-Type"] == "application/json"
    assert post.json()["text"].startswith(f":rotating_light: *CRITICAL* {alert.title}")


@pytest.mark.worker
def test_resolved_alerts_close_the_incident_and_tell_slack(stubs):
    slack, pagerduty = stubs
    alert = make_alert(Severity.RESOLVED)
    dispatch_alert.delay(alert.to_dict())
    [page] = pagerduty.wait_for(alert.fingerprint, 1)
    assert page.json() == {
        "routing_key": ROUTING_KEY,
        "dedup_key": alert.fingerprint,
        "event_action": "resolve",
    }
    [post] = slack.wait_for(alert.id, 1)
    assert post.json()["text"].startswith(":white_check_mark: *RESOLVED*")


@pytest.mark.worker
def test_warnings_go_to_slack_only(stubs):
    slack, pagerduty = stubs
    alert = make_alert(Severity.WARNING)
    assert dispatch_alert.delay(alert.to_dict()).get(timeout=10) == ["slack"]
    assert len(slack.wait_for(alert.id, 1)) == 1
    assert pagerduty.matching(alert.id) == []


@pytest.mark.worker
def test_server_errors_are_retried_per_channel_until_success(stubs):
    slack, pagerduty = stubs
    slack.reset(Reply(500, b"oops"), Reply(503, b"busy"))  # then 200
    alert = make_alert(Severity.CRITICAL)
    dispatch_alert.delay(alert.to_dict())
    assert len(slack.wait_for(alert.id, 3)) == 3
    # PagerDuty took it the first time and is not paged again by Slack's retries.
    assert len(pagerduty.matching(alert.id)) == 1
    time.sleep(1)
    assert len(slack.matching(alert.id)) == 3


@pytest.mark.worker
def test_429_is_retried_no_sooner_than_retry_after(stubs):
    slack, _ = stubs
    slack.reset(Reply(429, b"rate_limited", headers={"Retry-After": "1"}))
    alert = make_alert(Severity.WARNING)
    dispatch_alert.delay(alert.to_dict())
    first, second = slack.wait_for(alert.id, 2)
    assert second.at - first.at >= 0.95


@pytest.mark.worker
def test_a_hanging_channel_times_out_and_is_retried(stubs, settings):
    slack, _ = stubs
    slack.reset(Reply(200, b"ok", delay=settings.ALERT_HTTP_TIMEOUT + 1.5))
    alert = make_alert(Severity.WARNING)
    dispatch_alert.delay(alert.to_dict())
    first, second = slack.wait_for(alert.id, 2)
    assert second.at - first.at >= settings.ALERT_HTTP_TIMEOUT


@pytest.mark.worker
def test_delivery_gives_up_after_the_limit_and_logs_an_error(stubs, settings, worker_queue):
    slack, pagerduty = stubs
    pagerduty.reset(*[Reply(502, b"bad gateway")] * 10)
    alert = make_alert(Severity.CRITICAL)
    dispatch_alert.delay(alert.to_dict())
    assert len(pagerduty.wait_for(alert.id, settings.ALERT_MAX_TRIES)) == settings.ALERT_MAX_TRIES

    def gave_up() -> list[str]:  # this alert's line: an earlier test's gave up too
        lines = worker_log(worker_queue).splitlines()
        return [line for line in lines if "alert delivery gave up" in line and alert.id in line]

    deadline = time.monotonic() + 10
    while not gave_up() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("pagerduty" in line for line in gave_up())
    assert len(pagerduty.matching(alert.id)) == settings.ALERT_MAX_TRIES
    # A page that could not be delivered is escalated to the other channels, saying so.
    [escalated] = slack.wait_for("PagerDuty could not be paged", 1)
    assert escalated.json()["text"].startswith(
        f":rotating_light: *CRITICAL* PagerDuty could not be paged (HTTP 502): {alert.title}"
    )


@pytest.mark.worker
def test_a_client_error_is_not_retried_and_the_page_is_escalated(stubs):
    slack, pagerduty = stubs
    pagerduty.reset(Reply(400, {"status": "invalid event"}))
    alert = make_alert(Severity.CRITICAL)
    dispatch_alert.delay(alert.to_dict())
    pagerduty.wait_for(alert.id, 1)
    # Refused for good at once: the other channels hear it, saying why.
    [escalated] = slack.wait_for(f"PagerDuty could not be paged (HTTP 400): {alert.title}", 1)
    assert escalated.json()["text"].startswith(":rotating_light: *CRITICAL*")
    time.sleep(1)
    assert len(pagerduty.matching(alert.id)) == 1


@pytest.mark.worker
@pytest.mark.django_db
def test_a_redelivered_alert_is_not_sent_twice(stubs):
    slack, pagerduty = stubs
    alert = make_alert(Severity.CRITICAL)
    dispatch_alert.delay(alert.to_dict())
    slack.wait_for(alert.id, 1)
    pagerduty.wait_for(alert.id, 1)
    # The broker hands the same messages out again (a worker lost its ack).
    assert dispatch_alert.delay(alert.to_dict()).get(timeout=10) == []
    deliveries = Delivery.objects.filter(alert__alert_id=alert.id)
    assert sorted(item.channel for item in deliveries) == ["pagerduty", "slack"]
    for delivery in deliveries:
        assert send_delivery.apply_async((delivery.pk,), ignore_result=False).get(10) == "done"
    assert len(slack.matching(alert.id)) == 1
    assert len(pagerduty.matching(alert.id)) == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)  # the worker reads the outbox the view wrote
def test_the_receiver_answers_before_the_channels_are_called(stubs, client, settings):
    slack, _ = stubs
    slack.reset(Reply(200, b"ok", delay=1.5))  # a slow Slack
    settings.SENTRY_WEBHOOK_SECRET = "s3cret"
    settings.SLACK_WEBHOOK_URL = f"{slack.url}/services/T000/B000/secret"
    payload = metric_alert("warning")
    payload["data"]["description_title"] = marker = f"Latency high {uuid.uuid4().hex}"
    body = json.dumps(payload).encode()
    started = time.monotonic()
    response = deliver(client, body, resource="metric_alert", signature=sign(body, "s3cret"))
    elapsed = time.monotonic() - started
    assert response.status_code == 202
    assert elapsed < 1.0
    [post] = slack.wait_for(marker, 1)
    assert post.json()["text"].startswith(f":warning: *WARNING* {marker}")


# manage.py send_test_alert ----------------------------------------------------


def test_send_test_alert_without_channels_says_what_to_set():
    env = clean_env(SLACK_WEBHOOK_URL="", PAGERDUTY_ROUTING_KEY="", ALERT_EMAILS="")
    result = run_manage("send_test_alert", env=env)
    assert result.returncode == 1
    assert "No channel is configured for warning alerts" in result.stderr
    assert "SLACK_WEBHOOK_URL" in result.stderr


@pytest.mark.django_db(transaction=True)  # the command records its alerts: emptied afterwards
def test_send_test_alert_goes_through_the_real_path():
    with stub_server() as slack, stub_server(lambda received: PD_OK) as pagerduty:
        env = clean_env(
            DATABASE_URL=child_database_url(),
            SLACK_WEBHOOK_URL=f"{slack.url}/services/T/B/x",
            PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
            PAGERDUTY_EVENTS_URL=f"{pagerduty.url}/v2/enqueue",
            ALERT_EMAILS="",
        )
        critical = run_manage("send_test_alert", "--severity", "critical", env=env)
        assert critical.returncode == 0, critical.stderr
        assert "for: pagerduty, slack" in critical.stdout
        resolved = run_manage("send_test_alert", "--severity", "resolved", env=env)
        assert resolved.returncode == 0, resolved.stderr
        trigger, resolve = (item.json() for item in pagerduty.received)
        assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
        assert trigger["dedup_key"] == resolve["dedup_key"]
        assert trigger["dedup_key"].endswith("-test-alert")
        assert "Test alert (critical)" in trigger["payload"]["summary"]
        texts = [item.json()["text"] for item in slack.received]
        assert len(texts) == 2 and "Test alert (critical)" in texts[0]
