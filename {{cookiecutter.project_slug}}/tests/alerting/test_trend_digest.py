"""The error-trend digest: Sentry's numbers (a validating API stub) to Slack and e-mail."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail

from {{ cookiecutter.project_slug }}.alerting.tasks import send_trend_digest

from ..conftest import clean_env, settings_values
from ..sentry.test_monitor_trends import (
    DAY_BEFORE,
    TODAY,
    TOKEN,
    YESTERDAY,
    issue,
    old_issue,
    regressed_issue,
)
from ..support.loopback import Reply, stub_server
from ..support.sentry_issues_api import SentryIssuesAPI


@pytest.fixture
def channels(settings, inline_tasks):
    settings.PAGERDUTY_ROUTING_KEY = ""
    settings.ALERT_EMAILS = ["team@example.org"]
    settings.SENTRY_TREND_DIGEST = "daily"
    with stub_server() as slack:
        settings.SLACK_WEBHOOK_URL = f"{slack.url}/services/hook"
        yield slack


@pytest.fixture
def sentry(monkeypatch):
    """Sentry's issues API on loopback, named by the variables monitor.py reads."""
    api = SentryIssuesAPI([], token=TOKEN, page_size=2)
    with stub_server(api) as server:
        for name, value in {
            "SENTRY_URL": server.url,
            "SENTRY_AUTH_TOKEN": TOKEN,
            "SENTRY_ORG": "acme",
            "SENTRY_PROJECT": "shop",
        }.items():
            monkeypatch.setenv(name, value)
        yield api
    assert api.errors == []


def test_the_digest_reaches_slack_and_e_mail_with_the_period_s_numbers(channels, sentry):
    slack = channels
    sentry.issues[:] = [
        old_issue(1, yesterday=50, day_before=20),
        issue(3, YESTERDAY, YESTERDAY, yesterday=7),
        regressed_issue(5, "KeyError: <!channel>", yesterday=4),
        issue(4, DAY_BEFORE, DAY_BEFORE, day_before=2),
    ]
    assert send_trend_digest() == ["slack", "email"]

    [message] = mail.outbox
    assert message.subject == f"Sentry error trends for acme/shop, {YESTERDAY.isoformat()}"
    assert message.to == ["team@example.org"]
    lines = message.body.splitlines()
    assert lines[1] == "Events: 61 (the day before: 22, +177 %)"
    assert lines[2] == "New issues: 1 (the day before: 1)"
    assert "- SHOP-3 Error3: boom: 7 events (the day before: 0)" in lines[3]
    assert lines[4] == "Regressed issues: 1"
    assert lines[6] == "Top issues by events:"
    assert lines[7] == (
        "- SHOP-1 Error1: boom: 50 events (the day before: 20) https://acme.sentry.io/issues/1/"
    )

    [post] = slack.received
    text = post.json()["text"]
    assert "<https://acme.sentry.io/issues/1/|SHOP-1> Error1: boom: 50 events" in text
    assert "KeyError: &lt;!channel&gt;" in text  # an issue title cannot ping the channel
    assert "<!channel>" not in text


def test_an_empty_day_is_one_line(channels, sentry):
    slack = channels
    send_trend_digest()
    day = YESTERDAY.isoformat()
    expected = f"Sentry error trends for acme/shop, {day}: no events, nor the day before."
    assert mail.outbox[0].body == expected
    assert slack.received[0].json()["text"] == expected


def test_a_weekly_digest_compares_weeks(channels, sentry, settings):
    settings.SENTRY_TREND_DIGEST = "weekly"
    sentry.issues[:] = [old_issue(1, yesterday=3)]
    send_trend_digest()
    first = TODAY - timedelta(days=7)
    assert mail.outbox[0].subject.endswith(f"{first.isoformat()} to {TODAY.isoformat()}")
    assert "Events: 3 (the week before: 0, new)" in mail.outbox[0].body


def test_numbers_that_cannot_be_read_send_nothing_and_say_why(
    channels, sentry, monkeypatch, caplog
):
    slack = channels
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "a-revoked-token")
    with caplog.at_level(logging.ERROR):
        assert send_trend_digest() == []
    assert mail.outbox == [] and slack.received == []
    assert "HTTP 401: check SENTRY_AUTH_TOKEN" in caplog.text
    assert "a-revoked-token" not in caplog.text


def test_a_slack_outage_is_retried_and_e_mail_is_not_sent_twice(channels, sentry):
    slack = channels
    slack.reset(Reply(503, b"busy"))
    send_trend_digest()
    assert len(slack.received) == 2  # the 503, then the retry
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("value", "schedule"),
    [
        ("daily", "<crontab: 0 8 * * * (m/h/dM/MY/d)>"),
        ("weekly", "<crontab: 0 8 * * mon (m/h/dM/MY/d)>"),
    ],
)
def test_the_digest_is_scheduled_daily_or_weekly(value, schedule):
    [got] = settings_values(
        clean_env(SENTRY_TREND_DIGEST=value),
        "CELERY_BEAT_SCHEDULE['sentry-trend-digest']['schedule']",
    )
    assert got == schedule


def test_the_digest_can_be_turned_off_and_a_bad_value_is_refused():
    [got] = settings_values(clean_env(SENTRY_TREND_DIGEST="off"), "CELERY_BEAT_SCHEDULE.keys()")
    assert "sentry-trend-digest" not in got
    with pytest.raises(AssertionError, match="SENTRY_TREND_DIGEST is 'hourly'"):
        settings_values(clean_env(SENTRY_TREND_DIGEST="hourly"), "DEBUG")
