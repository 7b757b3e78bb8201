"""scripts/monitor.py --check trends against a validating stub of Sentry's issues API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from ..support.live_server import request
from ..support.loopback import Reply, stub_server
from ..support.monitor_script import monitor
from ..support.sentry_issues_api import Issue, SentryIssuesAPI

TOKEN = "sntrys_trends_token_0123456789abcdef"
TODAY = datetime.now(UTC).date()
YESTERDAY, DAY_BEFORE = TODAY - timedelta(days=1), TODAY - timedelta(days=2)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def issue(number: int, first_seen: date, last_seen: date, **daily: int) -> Issue:
    """An issue with events on named days: issue(1, ..., yesterday=4, day_before=2)."""
    days = {"yesterday": YESTERDAY, "day_before": DAY_BEFORE, "today": TODAY}
    counts = {days[name].isoformat(): count for name, count in daily.items()}
    for offset in range(3, 14):  # quiet history before the two periods
        counts.setdefault((TODAY - timedelta(days=offset)).isoformat(), 0)
    return Issue(number, f"Error{number}: boom", at(first_seen), at(last_seen), counts)


def regressed_issue(number: int, title: str, yesterday: int) -> Issue:
    """Resolved long ago, seen again yesterday: Sentry marks it regressed."""
    first_seen = at(TODAY - timedelta(days=40))
    counts = {YESTERDAY.isoformat(): yesterday}
    return Issue(number, title, first_seen, at(YESTERDAY), counts, substatus="regressed")


def old_issue(number: int, **daily: int) -> Issue:
    return issue(number, TODAY - timedelta(days=30), YESTERDAY, **daily)


def trends(api: SentryIssuesAPI, *args: str):
    with stub_server(api) as sentry:
        result = monitor(
            "--check", "trends", "--sentry-url", sentry.url, "--org", "acme",
            "--project", "shop", "--json", *args, env={"SENTRY_AUTH_TOKEN": TOKEN},
        )  # fmt: skip
        requests = list(sentry.received)
    assert TOKEN not in result.stdout + result.stderr
    assert api.errors == [], api.errors  # every request was one Sentry accepts
    return result, json.loads(result.stdout), requests


def test_a_day_against_the_day_before():
    api = SentryIssuesAPI(
        [
            old_issue(1, yesterday=50, day_before=20),
            old_issue(2, yesterday=3, day_before=9),
            issue(3, YESTERDAY, YESTERDAY, yesterday=7),  # new yesterday
            issue(4, DAY_BEFORE, YESTERDAY, yesterday=1, day_before=2),  # new the day before
            regressed_issue(5, "Error5: again", yesterday=4),
            old_issue(6, today=99),  # only today: not in a full period yet
        ],
        token=TOKEN,
        page_size=2,  # three pages
    )
    result, report, requests = trends(api)
    assert result.returncode == 0, result.stdout
    assert report["status"] == "OK"
    assert (report["events"], report["previous_events"]) == (65, 31)
    assert (report["new_issues"], report["previous_new_issues"]) == (1, 1)
    assert report["regressed_issues"] == 1
    assert [row["short_id"] for row in report["top"]] == [
        "SHOP-1",
        "SHOP-3",
        "SHOP-5",
        "SHOP-2",
        "SHOP-4",
    ]
    assert report["top"][0] == {
        "short_id": "SHOP-1", "title": "Error1: boom", "link": "https://acme.sentry.io/issues/1/",
        "level": "error", "events": 50, "previous_events": 20,
    }  # fmt: skip
    assert [row["short_id"] for row in report["new"]] == ["SHOP-3"]
    assert [row["short_id"] for row in report["regressed"]] == ["SHOP-5"]
    assert report["pages"] == 3 and not report["truncated"]
    assert report["start"] == at(YESTERDAY, 0).isoformat()
    query = parse_qs(urlsplit(requests[0].path).query)
    assert query["statsPeriod"] == ["14d"]
    assert query["query"] == [f"lastSeen:>={DAY_BEFORE.isoformat()}T00:00:00"]


def test_a_week_against_the_week_before():
    api = SentryIssuesAPI([old_issue(1, yesterday=5, day_before=5)], token=TOKEN)
    _, report, _ = trends(api, "--period", "week")
    assert report["period"] == "week"
    assert report["start"] == at(TODAY - timedelta(days=7), 0).isoformat()
    assert (report["events"], report["previous_events"]) == (10, 0)


def test_an_empty_period_says_so_in_one_line():
    result, report, _ = trends(SentryIssuesAPI([], token=TOKEN))
    assert result.returncode == 0
    assert report["message"] == (
        f"no events in acme/shop on {YESTERDAY.isoformat()} nor the day before"
    )
    assert report["top"] == report["new"] == []


@pytest.mark.parametrize(("new", "code", "status"), [(6, 1, "WARNING"), (11, 2, "CRITICAL")])
def test_many_new_issues_warn_then_are_critical(new, code, status):
    issues = [issue(n, YESTERDAY, YESTERDAY, yesterday=1) for n in range(new)]
    result, report, _ = trends(SentryIssuesAPI(issues, token=TOKEN))
    assert (result.returncode, report["status"]) == (code, status)


def test_a_rate_limited_page_is_asked_again():
    api = SentryIssuesAPI([old_issue(1, yesterday=2)], token=TOKEN)
    with stub_server(api) as sentry:
        sentry.reset(Reply(429, {"detail": "slow down"}, headers={"Retry-After": "1"}))
        result = monitor(
            "--check", "trends", "--sentry-url", sentry.url, "--org", "acme",
            "--project", "shop", "--json", env={"SENTRY_AUTH_TOKEN": TOKEN},
        )  # fmt: skip
        retried = sentry.received[1].at - sentry.received[0].at
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["events"] == 2
    assert retried >= 0.9  # Retry-After honoured


@pytest.mark.parametrize(
    ("api", "needle"),
    [
        (SentryIssuesAPI([], token="another-token"), "HTTP 401: check SENTRY_AUTH_TOKEN"),
        (SentryIssuesAPI([], token=TOKEN, scopes=()), "HTTP 403"),
        (SentryIssuesAPI([], token=TOKEN, project="other"), "HTTP 404: check --org"),
    ],
    ids=["401", "403", "404"],
)
def test_auth_and_slug_errors_are_unknown_with_one_sentence(api, needle):
    with stub_server(api) as sentry:
        result = monitor(
            "--check", "trends", "--sentry-url", sentry.url, "--org", "acme",
            "--project", "shop", env={"SENTRY_AUTH_TOKEN": TOKEN},
        )  # fmt: skip
    assert result.returncode == 3
    assert needle in result.stdout
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "query",
    ["statsPeriod=7d", "limit=500", "sort=loudest", "query=lastSeen:yesterday", "per_page=5"],
)
def test_the_stub_refuses_what_sentry_refuses(query):
    """A stub that accepts anything proves nothing: these get Sentry's 400."""
    api = SentryIssuesAPI([], token=TOKEN)
    with stub_server(api) as sentry:
        path = f"/api/0/projects/acme/shop/issues/?{query}"
        answer = request(sentry.url, "GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 400
    assert len(api.errors) == 1
