"""The error-trend digest: the last day's (or week's) Sentry numbers, to Slack and e-mail.

The numbers are those of `scripts/monitor.py --check trends --json`, run as a
subprocess: that script is standard library only so that a dashboard, cron or Nagios
reads the same figures without the project installed, and running it here keeps one
implementation of them. It needs SENTRY_AUTH_TOKEN (scope project:read), SENTRY_ORG
and SENTRY_PROJECT in the worker's environment (SENTRY_URL for a self-hosted Sentry).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .channels import slack_escape

MONITOR_TIMEOUT = 120  # seconds: up to 50 pages, each with its own 10 s deadline
PERIOD_WORDS = {"day": "the day before", "week": "the week before"}


class TrendsUnavailable(Exception):
    """The script could not read the numbers (UNKNOWN): its one-line reason."""


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str  # plain text, for e-mail
    slack: str  # the same, with Slack's escaping and links


def read_trends(period: str) -> dict[str, Any]:
    """The JSON report of monitor.py's trends check for `period` ("day" or "week")."""
    script = settings.BASE_DIR / "scripts" / "monitor.py"
    try:
        done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, str(script), "--check", "trends", "--period", period, "--json"],
            capture_output=True,
            text=True,
            timeout=MONITOR_TIMEOUT,
            env=os.environ.copy(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TrendsUnavailable(f"monitor.py took over {MONITOR_TIMEOUT} s") from None
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict):
        raise TrendsUnavailable(f"monitor.py exited {done.returncode} without a JSON report")
    if report.get("status") == "UNKNOWN":
        raise TrendsUnavailable(str(report.get("message", "")))
    return report


def _change(now: int, before: int) -> str:
    if before == 0:
        return "new" if now else "none"
    return f"{(now - before) * 100 / before:+.0f} %"


def digest(report: dict[str, Any]) -> Digest:
    """Subject and bodies of the digest; an empty period is one line."""
    before = PERIOD_WORDS[report["period"]]
    where = f"{report['org']}/{report['project']}"
    label = report["start"][:10] + (
        "" if report["period"] == "day" else f" to {report['end'][:10]}"
    )
    subject = f"Sentry error trends for {where}, {label}"
    if report["events"] == 0 and report["previous_events"] == 0 and not report["new"]:
        line = f"{subject}: no events, nor {before}."
        return Digest(subject, line, slack_escape(line))

    def rows(selection: list[dict[str, Any]], slack: bool) -> list[str]:
        lines = []
        for row in selection:
            counts = f"{row['events']} events ({before}: {row['previous_events']})"
            if slack:
                name = slack_escape(row["short_id"])
                link = f"<{row['link']}|{name}>" if row["link"] else name
                lines.append(f"• {link} {slack_escape(row['title'])}: {counts}")
            else:
                lines.append(f"- {row['short_id']} {row['title']}: {counts} {row['link']}".rstrip())
        return lines

    def body(slack: bool) -> str:
        lines = [
            slack_escape(subject) if slack else subject,
            f"Events: {report['events']} ({before}: {report['previous_events']},"
            f" {_change(report['events'], report['previous_events'])})",
            f"New issues: {report['new_issues']} ({before}: {report['previous_new_issues']})",
            *rows(report["new"], slack),
            f"Regressed issues: {report['regressed_issues']}",
            *rows(report["regressed"], slack),
        ]
        if report["top"]:
            lines += ["Top issues by events:", *rows(report["top"], slack)]
        if report.get("truncated"):
            lines.append("(Sentry listed more issues than were read: the counts are a floor.)")
        return "\n".join(lines)

    return Digest(subject, body(slack=False), body(slack=True))
