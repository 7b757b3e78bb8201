"""A stuck task reaches Sentry (one issue per task name) and the channels, from a real worker."""

import json
import os

import pytest

from ..conftest import child_database_url, requires
from ..support.loopback import stub_server
from ..support.sentry_stubs import EnvelopeSink
from ..test_stuck_tasks import NAP, stuck_task_worker

pytestmark = requires("REDIS_URL")


@pytest.mark.django_db(transaction=True)  # the worker records the alert in the outbox
def test_a_stuck_task_is_a_sentry_warning_and_a_slack_alert(tmp_path):
    with EnvelopeSink() as sink, stub_server() as slack:
        env = {
            "DATABASE_URL": child_database_url(),
            "SENTRY_DSN": sink.dsn,
            "SLACK_WEBHOOK_URL": f"{slack.url}/services/T000/B000/secret",
            "ENVIRONMENT": "staging",
        }
        with stuck_task_worker(tmp_path, **env) as worker:
            task_id = worker.send(NAP, 2.5, request_id="stuck-req-2")
            worker.wait_until_finished(task_id)
            [posted] = slack.wait_for(f"{NAP} stuck on", 1)
            [event] = sink.wait_for("event", lambda e: e.get("tags", {}).get("task_id") == task_id)
    assert event["level"] == "warning"
    assert event["message"].startswith(f"Celery task {NAP} stuck: running for ")
    assert event["fingerprint"] == ["celery-stuck-task", NAP]
    assert event["tags"]["request_id"] == "stuck-req-2"
    assert event["contexts"]["stuck_task"]["threshold_s"] == 1
    assert event["environment"] == "staging"
    text = json.dumps(posted.json())
    assert f"Celery task {NAP} stuck on " in text and "(threshold 1 s)" in text
    assert posted.path == "/services/T000/B000/secret"
    assert not [line for line in worker.lines() if "stuck task report failed" in line["message"]]


@pytest.fixture(autouse=True)
def _no_developer_channels(monkeypatch):
    for name in ("SLACK_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY", "SENTRY_DSN"):
        monkeypatch.delitem(os.environ, name, raising=False)
