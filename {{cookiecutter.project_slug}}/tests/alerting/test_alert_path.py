"""The alert path's round trip (alerting/alert_path.py): probe out to Sentry, webhook back.

The first test runs the real path: beat's "alert-path-check" entry, a worker that sends
the probe with the real SDK to a loopback Sentry, and gunicorn receiving what Sentry's
"alert path check" rule would send back. The test plays Sentry's part in between: it
turns the event it received into the event_alert webhook Sentry documents. The others
drive the checks in-process against the real database and a stub Slack.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from {{ cookiecutter.project_slug }}.alerting import alert_path
from {{ cookiecutter.project_slug }}.alerting.health import alert_path as alert_path_health
from {{ cookiecutter.project_slug }}.alerting.models import AlertPathProbe, AlertRecord, Delivery

from ..conftest import child_database_url, clean_env
from ..support.celery_processes import celery_process, wait_until
from ..support.live_server import gunicorn, request
from ..support.loopback import stub_server
from ..support.sentry_stubs import EnvelopeSink
from .test_webhooks import SECRET, deliver, event_alert, issue, sign

pytestmark = pytest.mark.django_db(transaction=True)


def webhook_of(event: dict) -> dict:
    """The event_alert webhook a Sentry rule sends for `event` (tags become pairs)."""
    return {
        "action": "triggered",
        "data": {
            "event": {
                "event_id": event["event_id"],
                "issue_id": "4242",
                "level": event["level"],
                "title": event.get("message") or event["logentry"]["message"],
                "tags": [[key, value] for key, value in event["tags"].items()],
                "web_url": "https://sentry.example/organizations/o/issues/4242/events/x/",
            },
            "triggered_rule": "managed: alert path check",
        },
    }


def probe_tag(event: dict) -> str:
    return event.get("tags", {}).get(alert_path.PROBE_TAG, "")


@pytest.mark.worker
def test_a_probe_goes_to_sentry_and_back_and_alerts_nobody(tmp_path):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    queue = f"alert-path-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "celery.log"
    with EnvelopeSink() as sentry, stub_server() as slack:
        env = clean_env(
            DJANGO_SETTINGS_MODULE="tests.alerting.alert_path_settings",
            BEAT_QUEUE=queue,
            REDIS_URL=os.environ["REDIS_URL"],
            DATABASE_URL=child_database_url(),
            SENTRY_DSN=sentry.dsn,
            SENTRY_TRACES_SAMPLE_RATE="0",
            SENTRY_WEBHOOK_SECRET=SECRET,
            SLACK_WEBHOOK_URL=f"{slack.url}/services/hook",
            PAGERDUTY_ROUTING_KEY="",
            ALERT_EMAILS="",
            CELERY_TASK_ALWAYS_EAGER="false",
            ALERT_PATH_CHECK_INTERVAL="3600",
        )
        schedule = tmp_path / "beat-schedule"
        worker = ["worker", "--pool=solo", "-Q", queue, "--without-mingle", "--without-gossip"]
        beat = ["beat", "--schedule", str(schedule)]
        with celery_process(worker, log, env), celery_process(beat, log, env), gunicorn(env) as url:
            wait_until(lambda: sentry.events(), 60, "the probe event reached Sentry", log)
            [event] = [item for item in sentry.events() if probe_tag(item)]
            assert event["level"] == "info"
            assert event["fingerprint"] == [alert_path.PROBE_TAG]
            wait_until(AlertPathProbe.objects.exists, 10, "the probe was recorded", log)
            assert AlertPathProbe.objects.get().returned_at is None

            body = json.dumps(webhook_of(event)).encode()
            answer = request(
                url,
                "POST",
                "/webhooks/sentry/",
                body.decode(),
                {
                    "Content-Type": "application/json",
                    "Sentry-Hook-Resource": "event_alert",
                    "Sentry-Hook-Timestamp": str(int(time.time())),
                    "Sentry-Hook-Signature": sign(body),
                },
            )
            assert (answer.status, json.loads(answer.text)) == (200, {"status": "probe"})
            probe = AlertPathProbe.objects.get()
            assert probe.probe_id == probe_tag(event)
            assert probe.returned_at is not None
            # Beat keeps ticking every second: no second probe within the interval.
            time.sleep(2)
            assert AlertPathProbe.objects.count() == 1
    assert AlertRecord.objects.count() == 0
    assert slack.received == []


@pytest.fixture
def probing(settings, inline_tasks):
    """Probing on (as with a DSN and a secret), Slack on a stub, e-mail to the outbox."""
    settings.SENTRY_DSN = "http://public@127.0.0.1:9/1"  # no client: probes are not sent
    settings.SENTRY_WEBHOOK_SECRET = SECRET
    settings.ALERT_PATH_CHECK_INTERVAL = 3600
    settings.ALERT_PATH_CHECK_WINDOW = 900
    settings.PAGERDUTY_ROUTING_KEY = "routing-key-of-a-pager-that-must-stay-quiet"
    settings.ALERT_EMAILS = ["oncall@example.org"]
    with stub_server() as slack:
        settings.SLACK_WEBHOOK_URL = f"{slack.url}/services/hook"
        yield slack


def sent_probe(minutes_ago: float) -> AlertPathProbe:
    return AlertPathProbe.objects.create(
        probe_id=uuid.uuid4().hex,
        event_id=uuid.uuid4().hex,
        sent_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_a_probe_not_back_within_the_window_is_announced_once_without_sentry(probing):
    slack = probing
    late = sent_probe(minutes_ago=20)
    assert alert_path_health(1.0).status == "warning"

    assert alert_path.check().broken
    assert alert_path.check().broken  # the next minute: still broken, not announced again

    [record] = AlertRecord.objects.all()
    assert record.source == "alert_path"
    assert record.title.startswith("Alert path broken")
    channels = {item.channel: item.status for item in Delivery.objects.filter(alert=record)}
    assert channels == {"slack": "sent", "email": "sent"}  # never PagerDuty: it pages via us
    assert len(slack.received) == 1
    assert b"Alert path broken" in slack.received[0].body
    [message] = mail.outbox
    assert "Alert path broken" in message.subject

    # The probe comes back late: the outage ends, and the same channels hear it.
    assert alert_path.probe_returned(late.probe_id)
    assert not alert_path.state().broken
    assert alert_path_health(1.0).status == "ok"
    assert len(slack.received) == 2
    assert b"Alert path works again" in slack.received[1].body


def test_probes_within_the_window_are_not_overdue(probing):
    sent_probe(minutes_ago=5)
    assert not alert_path.check().broken
    assert AlertRecord.objects.count() == 0


def test_a_new_outage_after_a_return_is_announced_again(probing):
    slack = probing
    back = sent_probe(minutes_ago=120)
    alert_path.probe_returned(back.probe_id)
    sent_probe(minutes_ago=60)
    alert_path.check()
    assert [r.title[:17] for r in AlertRecord.objects.all()] == ["Alert path broken"]
    assert len(slack.received) == 1


def test_without_a_dsn_nothing_is_probed_or_announced(probing, settings):
    settings.SENTRY_DSN = ""
    sent_probe(minutes_ago=60)
    state = alert_path.check()
    assert not state.enabled
    assert AlertRecord.objects.count() == 0
    assert alert_path_health(1.0).status == "ok"


def test_the_receiver_takes_a_probe_back_and_pages_nobody(probing, client):
    slack = probing
    probe = sent_probe(minutes_ago=1)
    payload = event_alert(level="info")
    payload["data"]["event"]["tags"].append([alert_path.PROBE_TAG, probe.probe_id])
    answer = deliver(client, payload, resource="event_alert")
    assert (answer.status_code, answer.json()) == (200, {"status": "probe"})
    assert AlertPathProbe.objects.get().returned_at is not None
    assert AlertRecord.objects.count() == 0
    assert slack.received == []


def test_an_unknown_or_repeated_probe_is_acknowledged_and_alerts_nobody(probing, client):
    payload = event_alert(level="info")
    payload["data"]["event"]["tags"].append([alert_path.PROBE_TAG, "f" * 32])
    answer = deliver(client, payload, resource="event_alert")
    assert (answer.status_code, answer.json()) == (200, {"status": "probe"})
    assert AlertRecord.objects.count() == 0


def test_sentry_s_news_of_the_probes_own_issue_alerts_nobody(probing, client):
    payload = issue("created")
    payload["data"]["issue"]["title"] = alert_path.PROBE_MESSAGE
    answer = deliver(client, payload, resource="issue")
    assert (answer.status_code, answer.json()) == (200, {"status": "probe"})
    assert AlertRecord.objects.count() == 0
    assert mail.outbox == []
