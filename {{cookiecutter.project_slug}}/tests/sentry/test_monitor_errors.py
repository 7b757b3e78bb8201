"""scripts/monitor.py --check errors against a stub of Sentry's issues API on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from ..support.loopback import Received, Reply, closed_port_url, silent_server, stub_server
from ..support.monitor_script import monitor

TOKEN = "sntrys_test_token_0123456789abcdef"


def issues(count: int, start: int = 0) -> list[dict]:
    return [
        {"id": str(n), "shortId": f"SHOP-{n}", "level": "error", "title": f"Error {n}"}
        for n in range(start, start + count)
    ]


def sentry_api(*pages: list[dict]) -> Callable[[Received], Reply]:
    """Serves `pages` with Sentry's Link header (cursor = page index)."""

    def respond(received: Received) -> Reply:
        if received.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"detail": "Invalid token"})
        parts = urlsplit(received.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        index = int(query.pop("cursor", "0"))
        base = f"http://{received.headers['Host']}{parts.path}"

        def link(cursor: int, rel: str, results: bool) -> str:
            url = f"{base}?{urlencode({**query, 'cursor': cursor})}"
            return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

        links = [link(max(index - 1, 0), "previous", index > 0)]
        links.append(link(index + 1, "next", index + 1 < len(pages)))
        return Reply(200, pages[index], headers={"Link": ", ".join(links)})

    return respond


def check_errors(url: str, *args: str, env: dict[str, str] | None = None):
    env = {"SENTRY_AUTH_TOKEN": TOKEN, **(env or {})}
    result = monitor(
        "--check", "errors", "--sentry-url", url, "--org", "acme", "--project", "shop", *args,
        env=env,
    )  # fmt: skip
    assert TOKEN not in result.stdout + result.stderr
    return result


def test_few_issues_are_ok_and_the_query_is_right():
    with stub_server(sentry_api(issues(3))) as sentry:
        result = check_errors(sentry.url)
        [request] = sentry.received
    assert result.returncode == 0, result.stdout
    assert result.stdout == (
        "ERRORS OK - 3 unresolved error issues in acme/shop in the last 1 h"
        " (warning above 5, critical above 10): SHOP-0, SHOP-1, SHOP-2 | issues=3;5;10;0\n"
    )
    parts = urlsplit(request.path)
    assert parts.path == "/api/0/projects/acme/shop/issues/"
    assert parse_qs(parts.query) == {
        "query": ["is:unresolved level:error lastSeen:-1h"],
        "limit": ["100"],
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_many_issues_across_two_pages_are_critical():
    with stub_server(sentry_api(issues(100), issues(50, start=100))) as sentry:
        result = check_errors(sentry.url, "--json")
        _, second = sentry.received
    assert result.returncode == 2
    assert parse_qs(urlsplit(second.path).query)["cursor"] == ["1"]
    assert second.headers["Authorization"] == f"Bearer {TOKEN}"
    answer = json.loads(result.stdout)
    assert answer == {
        "check": "errors",
        "status": "CRITICAL",
        "code": 2,
        "message": (
            "150 unresolved error issues in acme/shop in the last 1 h"
            " (warning above 5, critical above 10): SHOP-0, SHOP-1, SHOP-2, ..."
        ),
        "issues": 150,
        "truncated": False,
        "pages": 2,
        "next_page_host": None,
        "hours": 1,
        "warning": 5,
        "critical": 10,
        "org": "acme",
        "project": "shop",
        "sentry_url": sentry.url,
    }


@pytest.mark.parametrize(
    ("count", "args", "code"),
    [
        (0, [], 0),
        (5, [], 0),
        (6, [], 1),
        (10, [], 1),
        (11, [], 2),
        (3, ["--warning", "2", "--critical", "3"], 1),
        (4, ["--warning", "2", "--critical", "3"], 2),
        (1, ["--warning", "0", "--critical", "0"], 2),
    ],
)
def test_thresholds_alert_above_their_value(count, args, code):
    with stub_server(sentry_api(issues(count))) as sentry:
        assert check_errors(sentry.url, *args).returncode == code


def test_hours_and_defaults_come_from_the_flags_and_environment():
    with stub_server(sentry_api(issues(1))) as sentry:
        env = {"SENTRY_URL": sentry.url + "/", "SENTRY_ORG": "org-x", "SENTRY_PROJECT": "api"}
        env["SENTRY_AUTH_TOKEN"] = TOKEN
        result = monitor("--check", "errors", "--hours", "6", env=env)
        [request] = sentry.received
    assert result.returncode == 0, result.stdout
    assert urlsplit(request.path).path == "/api/0/projects/org-x/api/issues/"
    assert "lastSeen:-6h" in parse_qs(urlsplit(request.path).query)["query"][0]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(401, {"detail": "Invalid token"}), "HTTP 401: check SENTRY_AUTH_TOKEN"),
        (Reply(403, {"detail": "Forbidden"}), "HTTP 403: check SENTRY_AUTH_TOKEN"),
        (Reply(404, {"detail": "Not found"}), "HTTP 404: check --org 'acme' and --project 'shop'"),
        (Reply(500, b"oops"), "Sentry answered HTTP 500"),
        (Reply(200, b"<html>"), "did not answer JSON"),
        (Reply(200, {"detail": "?"}), "not a list of issues"),
    ],
)
def test_errors_from_sentry_are_unknown(reply, reason):
    with stub_server(lambda received: reply) as sentry:
        result = check_errors(sentry.url)
    assert result.returncode == 3
    assert result.stdout.startswith("ERRORS UNKNOWN - ")
    assert reason in result.stdout


def test_a_wrong_token_is_unknown():
    with stub_server(sentry_api(issues(1))) as sentry:
        result = check_errors(sentry.url, env={"SENTRY_AUTH_TOKEN": "wrong-token-xyz"})
    assert result.returncode == 3
    assert "HTTP 401" in result.stdout and "wrong-token-xyz" not in result.stdout


def test_an_unreachable_sentry_is_unknown():
    result = check_errors(closed_port_url())
    assert result.returncode == 3
    assert "cannot reach" in result.stdout


def test_a_hanging_sentry_is_unknown_within_the_timeout():
    with silent_server() as url:
        started = time.monotonic()
        result = check_errors(url, "--timeout", "1")
    assert result.returncode == 3
    assert "timed out after 1 s" in result.stdout
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"SENTRY_AUTH_TOKEN": ""}, "missing SENTRY_AUTH_TOKEN"),
        ({"SENTRY_AUTH_TOKEN": "   "}, "missing SENTRY_AUTH_TOKEN"),
    ],
)
def test_a_missing_token_is_unknown(env, missing):
    result = monitor("--check", "errors", "--org", "acme", "--project", "shop", env=env)
    assert result.returncode == 3
    assert missing in result.stdout


def test_a_missing_org_and_project_are_named():
    result = monitor("--check", "errors", env={"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORG": ""})
    assert result.returncode == 3
    assert "missing --org (or SENTRY_ORG), --project (or SENTRY_PROJECT)" in result.stdout


def test_warning_above_critical_is_refused():
    result = check_errors("http://127.0.0.1:9", "--warning", "20", "--critical", "10")
    assert result.returncode == 3
    assert "--warning must not be above --critical" in result.stdout


def test_the_token_is_masked_even_when_the_server_echoes_it():
    echo = [{"id": "1", "shortId": TOKEN, "level": "error"}]
    with stub_server(sentry_api(echo)) as sentry:
        result = check_errors(sentry.url)  # asserts the token is absent
    assert result.returncode == 0
    assert "***" in result.stdout


@pytest.mark.parametrize(
    ("counted", "code", "label"), [(100, 2, "CRITICAL"), (20, 1, "WARNING"), (3, 3, "UNKNOWN")]
)
def test_a_pagination_link_to_another_host_is_not_followed(counted, code, label):
    """A self-hosted Sentry builds its links from its public URL: the token stays home."""

    def elsewhere(received: Received) -> Reply:
        link = '<http://203.0.113.9/api/0/next/>; rel="next"; results="true"; cursor="1"'
        return Reply(200, issues(counted), headers={"Link": link})

    with stub_server(elsewhere) as sentry:
        result = check_errors(sentry.url, "--warning", "10", "--critical", "50")
        assert len(sentry.received) == 1
    assert result.returncode == code, result.stdout
    assert result.stdout.startswith(f"ERRORS {label}")
    assert f"{counted}+ unresolved error issues" in result.stdout
    assert "not followed: its link points to http://203.0.113.9" in result.stdout
