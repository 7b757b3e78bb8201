"""--check trends: a Sentry project's last full day (or week) against the one before.

Reads the issues seen since the start of the previous period, with their daily event
counts (Sentry's issues API, statsPeriod=14d: one bucket per UTC day), in one paginated
listing (monitor_sentry.py), and reports:
- events: all events of those issues, this period and the previous one;
- new issues: first seen in the period (and how many were in the previous one);
- regressed issues: Sentry marks them `substatus: regressed` (a resolved issue seen again);
- the top issues by events in the period, each with its previous count.
Periods are whole UTC days ending at today's midnight: `day` is yesterday, `week` the
seven days before today. New + regressed issues above --warning -> 1, above
--critical -> 2. The daily digest (alerting/trends.py) posts the same numbers.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor_http import display_url
from monitor_nagios import CRITICAL, OK, UNKNOWN, WARNING, Check, CheckError, Result
from monitor_sentry import add_project_arguments, list_issues, token_and_project

PERIOD_DAYS = {"day": 1, "week": 7}
LISTED = 5  # issues shown per list


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime, datetime]:
    """(previous start, start, end) of the last full `period` before `now`, in UTC."""
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    length = timedelta(days=PERIOD_DAYS[period])
    return end - 2 * length, end - length, end


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def events_between(issue: dict[str, Any], start: datetime, end: datetime) -> int:
    """The issue's events in [start, end), from its daily buckets ([unix time, count])."""
    buckets = issue.get("stats", {}).get("14d") if isinstance(issue.get("stats"), dict) else None
    low, high = start.timestamp(), end.timestamp()
    total = 0
    for bucket in buckets if isinstance(buckets, list) else ():
        if isinstance(bucket, list) and len(bucket) == 2 and low <= bucket[0] < high:
            total += int(bucket[1]) if isinstance(bucket[1], int | float) else 0
    return total


def summarize(issues: list[dict[str, Any]], bounds: tuple[datetime, ...]) -> dict[str, Any]:
    """The numbers of the report, from the listed issues and the period's bounds."""
    previous_start, start, end = bounds
    rows: list[dict[str, Any]] = []
    for issue in issues:
        first_seen = _moment(issue.get("firstSeen"))
        rows.append(
            {
                "id": str(issue.get("id", "")),
                "short_id": str(issue.get("shortId", "")),
                "title": str(issue.get("title", ""))[:200],
                "link": str(issue.get("permalink", "")),
                "level": str(issue.get("level", "")),
                "events": events_between(issue, start, end),
                "previous_events": events_between(issue, previous_start, start),
                "new": first_seen is not None and start <= first_seen < end,
                "new_before": first_seen is not None and previous_start <= first_seen < start,
                "regressed": issue.get("substatus") == "regressed",
            }
        )
    rows.sort(key=lambda row: (-row["events"], row["short_id"]))
    in_period = [row for row in rows if row["events"] > 0]
    new = [row for row in rows if row["new"]]
    regressed = [row for row in in_period if row["regressed"] and not row["new"]]

    def listed(selection: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keys = ("short_id", "title", "link", "level", "events", "previous_events")
        return [{key: row[key] for key in keys} for row in selection[:LISTED]]

    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "events": sum(row["events"] for row in rows),
        "previous_events": sum(row["previous_events"] for row in rows),
        "new_issues": len(new),
        "previous_new_issues": sum(row["new_before"] for row in rows),
        "regressed_issues": len(regressed),
        "new": listed(new),
        "regressed": listed(regressed),
        "top": listed(in_period),
    }


def check_trends(args: argparse.Namespace, now: datetime | None = None) -> Result:
    token = token_and_project(args)
    if args.warning > args.critical:
        raise CheckError("--warning must not be above --critical")
    bounds = period_bounds(args.period, now or datetime.now(UTC))
    query = f"lastSeen:>={bounds[0].strftime('%Y-%m-%dT%H:%M:%S')}"
    listing = list_issues(args, token, {"query": query, "statsPeriod": "14d", "sort": "freq"})
    numbers = summarize(listing.issues, bounds)
    changed = numbers["new_issues"] + numbers["regressed_issues"]
    code = CRITICAL if changed > args.critical else WARNING if changed > args.warning else OK
    if listing.truncated and code == OK:
        code = UNKNOWN  # more may exist: too few counted to say OK
    more = "+" if listing.truncated else ""
    label = (
        f"{args.period} to {bounds[2].date()}" if args.period == "week" else str(bounds[1].date())
    )
    if numbers["events"] == 0 and numbers["previous_events"] == 0:
        message = f"no events in {args.org}/{args.project} on {label} nor the {args.period} before"
    else:
        top = ", ".join(f"{row['short_id']} ({row['events']})" for row in numbers["top"][:3])
        message = (
            f"{args.org}/{args.project} {label}: {numbers['events']}{more} events"
            f" (previous {args.period}: {numbers['previous_events']}{more}),"
            f" {numbers['new_issues']} new issues"
            f" (previous {args.period}: {numbers['previous_new_issues']}),"
            f" {numbers['regressed_issues']} regressed"
            f" (warning above {args.warning}, critical above {args.critical})"
            + (f"; top: {top}" if top else "")
        )
    if listing.next_page_host:
        message += f" (next page not followed: it points to {listing.next_page_host})"
    details = {
        **numbers,
        "period": args.period,
        "truncated": listing.truncated,
        "pages": listing.pages,
        "next_page_host": listing.next_page_host or None,
        "warning": args.warning,
        "critical": args.critical,
        "org": args.org,
        "project": args.project,
        "sentry_url": display_url(args.sentry_url.rstrip("/")),
    }
    perfdata = (
        f"events={numbers['events']} new={numbers['new_issues']};{args.warning};{args.critical}"
        f" regressed={numbers['regressed_issues']}"
    )
    return Result("trends", code, message, details, perfdata)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    parser.add_argument(
        "--period", choices=sorted(PERIOD_DAYS), default="day", help="trends: day or week (day)"
    )


CHECK = Check(check_trends, add_arguments, secret_variables=("SENTRY_AUTH_TOKEN",))
