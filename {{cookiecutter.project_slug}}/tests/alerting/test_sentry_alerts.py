"""`manage.py sentry_alerts plan|apply` against a stub of Sentry's API that checks every body.

The stub (tests/support/sentry_api_stub.py) refuses what Sentry would refuse, answers in
Sentry's shapes and paginates two items a page, so every listing follows Link headers.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django.core.management.base import CommandError
from sentry_sdk.utils import match_regex_list

from {{ cookiecutter.project_slug }}.alerting.sentry_api import SentryApiError, SentryClient
from {{ cookiecutter.project_slug }}.monitoring.sentry import _sdk_internals
from {{ cookiecutter.project_slug }}.monitoring.sentry.beat_monitors import sdk_excluded_entries

from ..conftest import PROJECT_DIR, clean_env, run_manage
from ..support.loopback import Reply, stub_server
from ..support.sentry_api_stub import Fault, SentryApiStub

TOKEN = "sntrys_alerts_as_code_secret_0123456789"
RULES_FILE = PROJECT_DIR / "deploy" / "sentry" / "alerts.yaml"
PREFIX = "[{{ cookiecutter.project_slug }}]"
SWEEP = {"task": "x.sweep", "schedule": 15.0}  # as alerts-sweep in base.py
DEFAULT_OBJECTS = 5 + 3 + 1  # issue alerts, metric alerts, uptime monitors of the file


@pytest.fixture
def stub() -> Iterator[SentryApiStub]:
    server = SentryApiStub(TOKEN)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def sentry_env(monkeypatch: pytest.MonkeyPatch, stub: SentryApiStub, settings) -> None:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("SENTRY_URL", stub.url)
    monkeypatch.setenv("SENTRY_ORG", stub.org)
    monkeypatch.setenv("SENTRY_PROJECT", stub.project)
    monkeypatch.setenv("SENTRY_ALERT_INTEGRATION", stub.integration)
    settings.CELERY_BEAT_SCHEDULE = {"alerts-sweep": SWEEP}


def run(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("sentry_alerts", *args, stdout=out, stderr=err)
    finally:
        assert TOKEN not in out.getvalue() + err.getvalue()
    return out.getvalue()


def failure(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args)
    message = str(caught.value)
    assert TOKEN not in message
    return message


def lines(output: str, action: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip().startswith(action + " ")]


def edited_file(tmp_path: Path, old: str, new: str) -> Path:
    text = RULES_FILE.read_text()
    assert old in text
    path = tmp_path / "alerts.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


# --- plan and apply -------------------------------------------------------------------


def test_plan_on_an_empty_project_lists_every_create_and_writes_nothing(stub):
    output = run("plan")

    assert len(lines(output, "create")) == DEFAULT_OBJECTS
    assert f"issue alert     {PREFIX} alert-path-check" in output
    assert f"metric alert    {PREFIX} p95-duration" in output
    assert f"uptime monitor  {PREFIX} ready" in output
    assert stub.writes() == []


def test_apply_creates_what_the_file_says_in_shapes_sentry_accepts(stub):
    output = run("apply")

    assert len(lines(output, "created")) == DEFAULT_OBJECTS
    assert len(stub.issue_rules) == 5 and len(stub.metric_rules) == 3 and len(stub.uptime) == 1
    probe = next(r for r in stub.issue_rules.values() if r["name"].endswith("alert-path-check"))
    assert probe["frequency"] == 5
    assert probe["filters"][0] | {"name": ""} == {
        "id": "sentry.rules.filters.tagged_event.TaggedEventFilter",
        "key": "alert_path_check",
        "match": "is",
        "name": "",
    }
    assert probe["actions"][0]["sentryAppInstallationUuid"] == stub.installation_uuid
    errors = next(r for r in stub.metric_rules.values() if r["name"].endswith("error-count"))
    assert [(t["label"], t["alertThreshold"]) for t in errors["triggers"]] == [
        ("critical", 100.0),
        ("warning", 20.0),
    ]
    assert errors["triggers"][0]["actions"][0]["sentryAppId"] == stub.app_id
    (uptime,) = stub.uptime.values()
    assert uptime["url"] == "https://{{ cookiecutter.domain_name }}/health/ready/"


def test_a_second_apply_changes_nothing_and_sends_no_write(stub):
    run("apply")
    stub.calls.clear()

    plan = run("plan")
    second = run("apply")

    assert len(lines(plan, "unchanged")) == DEFAULT_OBJECTS
    assert lines(plan, "create") == lines(plan, "update") == []
    assert "Applied: nothing to change." in second
    assert stub.writes() == []
    # The lists were read page by page (two items a page): 5 issue rules = 3 pages.
    pages = [c for c in stub.calls if c.path.endswith("/rules/") and c.method == "GET"]
    assert [c.query.get("cursor") for c in pages[:3]] == [None, "0:2:0", "0:4:0"]


def test_an_edited_threshold_is_one_update(stub, tmp_path):
    run("apply")
    changed = edited_file(tmp_path, "critical: 100\n", "critical: 250\n")
    stub.calls.clear()

    plan = run("plan", "--file", str(changed))
    output = run("apply", "--file", str(changed))

    assert lines(plan, "update") == [
        f"  update             metric alert    {PREFIX} error-count (triggers)"
    ]
    assert len(lines(output, "updated")) == 1
    (write,) = stub.writes()
    assert write.method == "PUT" and write.body["triggers"][0]["alertThreshold"] == 250.0


def test_rules_we_do_not_own_are_never_touched(stub):
    lookalikes = [
        stub.add_issue_rule(f"{PREFIX}new-issue"),  # no space after the prefix
        stub.add_issue_rule("{{ cookiecutter.project_slug }} new-issue"),
        stub.add_issue_rule(f"Copy of {PREFIX} new-issue"),
    ]

    plan = run("plan")
    run("apply", "--prune")

    assert lines(plan, "owned-but-removed") == []
    assert all(rule_id in stub.issue_rules for rule_id in lookalikes)
    touched = {call.path.rstrip("/").rsplit("/", 1)[-1] for call in stub.writes()}
    assert touched.isdisjoint(lookalikes)


def test_an_owned_rule_dropped_from_the_file_is_deleted_only_with_prune(stub, tmp_path):
    run("apply")
    block = (
        "  regression:\n    when: regression\n    notify: integration\n    frequency_minutes: 30\n"
    )
    shorter = edited_file(tmp_path, block, "")
    old = next(i for i, r in stub.issue_rules.items() if r["name"] == f"{PREFIX} regression")

    plan = run("plan", "--file", str(shorter))
    kept = run("apply", "--file", str(shorter))
    assert old in stub.issue_rules
    pruned = run("apply", "--file", str(shorter), "--prune")

    assert (
        f"{PREFIX} regression (deleted only by apply --prune)"
        in lines(plan, "owned-but-removed")[0]
    )
    assert lines(kept, "deleted") == []
    assert f"deleted            issue alert     {PREFIX} regression" in pruned
    assert old not in stub.issue_rules


def test_plan_exit_code_says_whether_changes_are_pending(stub):
    with pytest.raises(SystemExit) as caught:
        run("plan", "--exit-code")
    assert caught.value.code == 2
    run("apply")
    run("plan", "--exit-code")  # nothing pending: returns normally (exit 0)


# --- cron monitors from the beat schedule ---------------------------------------------


def test_cron_monitors_follow_the_beat_schedule(stub, settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "alerts-sweep": SWEEP,
        "nightly-report": {"task": "x.report", "schedule": crontab(hour=3, minute=0)},
        "Every_Five": {"task": "x.five", "schedule": 300},
        "odd-interval": {"task": "x.odd", "schedule": 90},
    }

    output = run("apply")

    assert f"created            cron monitor    {PREFIX} nightly-report" in output
    assert (
        "skipped            cron monitor for beat entry 'alerts-sweep': runs every 15 s;" in output
    )
    assert "'odd-interval': runs every 90 s; Sentry Crons counts whole minutes" in output
    nightly = stub.monitors["nightly-report"]["config"]
    assert (nightly["schedule_type"], nightly["schedule"], nightly["timezone"]) == (
        "crontab",
        "0 3 * * *",
        settings.CELERY_TIMEZONE,
    )
    assert stub.monitors["every_five"]["config"]["schedule"] == [5, "minute"]
    assert set(stub.monitors) == {"nightly-report", "every_five"}
    stub.calls.clear()
    assert "Applied: nothing to change." in run("apply")


def test_a_new_beat_entry_needs_no_edit_of_the_file(stub, settings):
    run("apply")
    settings.CELERY_BEAT_SCHEDULE = {
        "alerts-sweep": SWEEP,
        "cleanup": {"task": "x.cleanup", "schedule": crontab(minute="*/10")},
    }

    plan = run("plan")

    assert lines(plan, "create") == [f"  create             cron monitor    {PREFIX} cleanup"]


def test_a_monitor_the_sdk_created_from_a_check_in_is_adopted(stub, settings):
    settings.CELERY_BEAT_SCHEDULE = {"cleanup": {"task": "x", "schedule": crontab(minute="*/10")}}
    stub.add_sdk_monitor("cleanup", "*/10 * * * *", "crontab")

    plan = run("plan")
    run("apply")

    assert "cleanup (name) [adopted: created by the SDK's check-ins]" in plan
    assert stub.monitors["cleanup"]["name"] == f"{PREFIX} cleanup"


def test_the_sdk_leaves_out_the_entries_crons_cannot_represent(settings):
    schedule = {
        "alerts-sweep": SWEEP,
        "alerts-sweep-2": {"task": "x", "schedule": 60},
        "old-alerts-sweep": {"task": "x", "schedule": crontab()},
    }

    excluded = sdk_excluded_entries(schedule)

    assert match_regex_list("alerts-sweep", excluded)
    assert not match_regex_list("alerts-sweep-2", excluded)
    assert not match_regex_list("old-alerts-sweep", excluded)


def test_the_sdk_function_we_borrow_still_gives_the_check_in_schedule():
    """sentry-sdk changed: see monitoring/sentry/_sdk_internals.py (beat_monitor_config)."""
    from config.celery_app import app

    every_hour = _sdk_internals.beat_monitor_config(crontab(minute=0), app, "hourly")
    every_ten = _sdk_internals.beat_monitor_config(crontab(minute="*/10"), app, "x")

    assert every_hour == {
        "schedule": {"type": "crontab", "value": "0 * * * *"},
        "timezone": str(app.timezone),
    }
    assert every_ten["schedule"]["value"] == "*/10 * * * *"


# --- errors ---------------------------------------------------------------------------


def test_a_wrong_token_is_one_sentence_and_exit_status_1(stub):
    env = clean_env(
        SENTRY_AUTH_TOKEN="sntrys_not_the_right_one_98765",
        SENTRY_URL=stub.url, SENTRY_ORG=stub.org, SENTRY_PROJECT=stub.project,
        SENTRY_ALERT_INTEGRATION=stub.integration,
    )  # fmt: skip

    result = run_manage("sentry_alerts", "plan", env=env)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "CommandError: Sentry refused the token (HTTP 401): check SENTRY_AUTH_TOKEN."
    )
    assert "sntrys_not_the_right_one" not in result.stdout + result.stderr


def test_a_missing_scope_names_the_scopes(stub):
    stub.scopes.discard("alerts:write")

    message = failure("apply")

    assert message.startswith("Sentry refused POST /api/0/projects/acme/shop/rules/ (HTTP 403)")
    assert "alerts:write" in message


def test_an_unknown_project_names_the_settings_to_check(stub, monkeypatch):
    monkeypatch.setenv("SENTRY_PROJECT", "no-such-project")

    message = failure("plan")

    assert message == (
        "Sentry has no /api/0/projects/acme/no-such-project/rules/ (HTTP 404):"
        " check SENTRY_ORG, SENTRY_PROJECT and SENTRY_URL."
    )


def test_missing_settings_are_named_before_anything_is_sent(stub, monkeypatch):
    monkeypatch.delenv("SENTRY_AUTH_TOKEN")
    monkeypatch.delenv("SENTRY_ALERT_INTEGRATION")

    message = failure("plan")

    assert message == (
        "Missing SENTRY_AUTH_TOKEN, SENTRY_ALERT_INTEGRATION (or --integration);"
        " see docs/alerting.md."
    )
    assert stub.calls == []


def test_an_integration_sentry_does_not_know_is_named(stub, monkeypatch):
    monkeypatch.setenv("SENTRY_ALERT_INTEGRATION", "Nope")

    message = failure("plan")

    assert message.startswith(
        "No alert-rule integration called 'Nope' in acme (found: Our receiver,"
    )


def test_429_is_retried_after_the_servers_retry_after(stub):
    # Longer than the first back-off (1 s): only Retry-After makes the client wait 2 s.
    stub.faults.append(Fault(429, {"Retry-After": "2"}, {"detail": "Request was throttled."}))

    started = time.monotonic()
    output = run("plan")

    assert time.monotonic() - started >= 2.0
    assert len(lines(output, "create")) == DEFAULT_OBJECTS


def test_a_body_sentry_refuses_is_reported_with_sentrys_reason(stub):
    client = SentryClient(stub.url, TOKEN, stub.org)
    body = {"name": "x", "actionMatch": "sometimes", "conditions": [], "actions": []}

    with pytest.raises(SentryApiError) as caught:
        client.request("POST", "projects/acme/shop/rules/", body)

    assert str(caught.value) == (
        "POST /api/0/projects/acme/shop/rules/: Sentry answered HTTP 400:"
        ' {"actionMatch": ["\\"sometimes\\" is not a valid choice."]}'
    )
    assert caught.value.status == 400


def test_a_rule_sentry_refuses_stops_apply_with_sentrys_reason(stub, tmp_path):
    twin = edited_file(
        tmp_path, "  regression:\n    when: regression\n", "  regression:\n    when: new_issue\n"
    )

    message = failure("apply", "--file", str(twin))

    assert message == (
        'POST /api/0/projects/acme/shop/rules/: Sentry answered HTTP 400: {"name": ["This rule'
        f" is an exact duplicate of '{PREFIX} new-issue' in this project"
        ' and may not be created."]}'
    )


def test_a_long_retry_after_is_capped(stub):
    sleeps: list[float] = []
    client = SentryClient(stub.url, TOKEN, stub.org, sleep=sleeps.append)
    stub.faults.append(Fault(429, {"Retry-After": "3600"}, {"detail": "Request was throttled."}))

    client.request("GET", "organizations/acme/monitors/")

    assert sleeps == [60.0]


def test_5xx_is_retried_with_back_off_then_given_up_on(stub):
    sleeps: list[float] = []
    client = SentryClient(stub.url, TOKEN, stub.org, max_tries=4, sleep=sleeps.append)
    stub.faults.append(Fault(500, times=2))

    assert client.request("GET", "organizations/acme/alert-rules/available-actions/")
    assert sleeps == [1.0, 2.0]

    sleeps.clear()
    stub.faults.append(Fault(503, times=None))
    with pytest.raises(SentryApiError) as caught:
        client.request("GET", "organizations/acme/monitors/")
    assert str(caught.value) == (
        "GET /api/0/organizations/acme/monitors/: Sentry answered HTTP 503 4 times; giving up."
    )
    assert sleeps == [1.0, 2.0, 4.0]
    assert TOKEN not in repr(client)


def test_a_next_page_on_another_host_is_not_followed(stub):
    def elsewhere(received) -> Reply:
        link = '<https://sentry.example.net/api/0/x/?cursor=0:2:0>; rel="next"; results="true"'
        return Reply(200, [{"id": "1"}], {"Link": link})

    with stub_server(elsewhere) as server:
        client = SentryClient(server.url, TOKEN, "acme")
        with pytest.raises(SentryApiError) as caught:
            client.get_all("x/")
    assert "is on sentry.example.net" in str(caught.value)
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "frequency_minutes: 30\n",
            "frequency_minutes: often\n",
            ":17: issue_alerts.new-issue.frequency_minutes: expected an integer, got 'often'",
        ),
        (
            "    notify: integration\n    frequency_minutes: 30\n",
            "    notify: integration\n    frequncy_minutes: 30\n",
            ":17: issue_alerts.new-issue.frequncy_minutes: unknown field (allowed: when, notify,",
        ),
        (
            "measure: errors\n",
            "measure: error_count\n",
            ":52: metric_alerts.error-count.measure: 'error_count' is not one of errors,"
            " p95_duration, failure_rate",
        ),
        (
            "interval_seconds: 60\n",
            "interval_seconds: 30\n",
            ":77: uptime_monitors.ready.interval_seconds: 30 is not one of 60, 300, 600,",
        ),
    ],
)
def test_a_bad_file_names_the_line_and_the_field(stub, tmp_path, old, new, expected):
    bad = edited_file(tmp_path, old, new)

    message = failure("plan", "--file", str(bad))

    assert message.startswith(f"{bad}{expected}")
    assert stub.calls == []
