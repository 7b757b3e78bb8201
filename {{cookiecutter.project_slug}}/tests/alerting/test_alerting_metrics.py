"""Alerting's Prometheus metrics: recorded from its signals, read from a real scrape."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from {{ cookiecutter.project_slug }}.alerting import alert_path
from {{ cookiecutter.project_slug }}.alerting.metrics import (
    observe_alert_dispatch,
    observe_webhook_alert,
)
from {{ cookiecutter.project_slug }}.alerting.models import AlertPathProbe

from ..metrics.scrape import scrape, value


def test_webhook_alerts_and_dispatches_are_counted(client):
    before = scrape(client)
    observe_webhook_alert("accepted")
    observe_webhook_alert("bad_signature")
    observe_alert_dispatch("slack", "sent")
    observe_alert_dispatch("pagerduty", "retried")
    after = scrape(client)
    for name, labels in [
        ("webhook_alerts_received_total", {"outcome": "accepted"}),
        ("webhook_alerts_received_total", {"outcome": "bad_signature"}),
        ("alert_dispatches_total", {"channel": "slack", "outcome": "sent"}),
        ("alert_dispatches_total", {"channel": "pagerduty", "outcome": "retried"}),
    ]:
        assert value(after, name, **labels) - value(before, name, **labels) == 1, labels
    with pytest.raises(ValueError, match="alert channel 'sms'"):
        observe_alert_dispatch("sms", "sent")
    with pytest.raises(ValueError, match="webhook outcome 'ok'"):
        observe_webhook_alert("ok")


def test_webhook_answers_are_counted_by_outcome(client, settings):
    name = "webhook_alerts_received_total"
    before = scrape(client)
    settings.SENTRY_WEBHOOK_SECRET = "metrics-test-secret"
    client.post("/webhooks/sentry/", data=b"{}", content_type="application/json")
    client.get("/webhooks/sentry/")  # not a delivery: not counted
    settings.SENTRY_WEBHOOK_SECRET = ""
    client.post("/webhooks/sentry/", data=b"{}", content_type="application/json")
    after = scrape(client)
    moved = {
        dict(labels)["outcome"]: count - before.get((sample, labels), 0.0)
        for (sample, labels), count in after.items()
        if sample == name and count != before.get((sample, labels), 0.0)
    }
    assert moved == {"bad_signature": 1, "not_configured": 1}


@pytest.mark.django_db(transaction=True)
def test_the_alert_path_s_state_is_shown_by_its_periodic_check(client, settings):
    settings.SENTRY_DSN = "http://public@127.0.0.1:9/1"  # no client: no probe is sent
    settings.SENTRY_WEBHOOK_SECRET = "metrics-test-secret"
    settings.SLACK_WEBHOOK_URL = settings.PAGERDUTY_ROUTING_KEY = ""
    settings.ALERT_EMAILS = []
    late = AlertPathProbe.objects.create(
        probe_id=uuid.uuid4().hex,
        event_id=uuid.uuid4().hex,
        sent_at=timezone.now() - timedelta(hours=2),
    )
    alert_path.check()
    broken = scrape(client)
    assert value(broken, "alert_path_broken") == 1
    assert value(broken, "alert_path_last_round_trip_timestamp_seconds") == 0

    alert_path.probe_returned(late.probe_id)
    alert_path.check()
    works = scrape(client)
    assert value(works, "alert_path_broken") == 0
    assert value(works, "alert_path_last_round_trip_timestamp_seconds") == pytest.approx(
        timezone.now().timestamp(), abs=60
    )
