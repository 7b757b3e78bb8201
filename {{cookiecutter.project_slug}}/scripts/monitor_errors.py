"""--check errors: the unresolved error-level issues of a Sentry project.

Counts the issues seen in the last H hours (Sentry's issues API, following its
pagination: monitor_sentry.py). Above --warning -> 1, above --critical -> 2. A count cut
short (50 pages, or a next page on another host, where the token is not sent) reads
"100+"; it still justifies WARNING or CRITICAL, and is UNKNOWN when it stays below
--warning. The token comes from SENTRY_AUTH_TOKEN only (scope project:read) and is never
printed; SENTRY_URL, SENTRY_ORG and SENTRY_PROJECT are the defaults of --sentry-url,
--org and --project.
"""

from __future__ import annotations

import argparse

from monitor_http import display_url
from monitor_nagios import CRITICAL, OK, UNKNOWN, WARNING, Check, CheckError, Result, number
from monitor_sentry import add_project_arguments, list_issues, token_and_project


def check_errors(args: argparse.Namespace) -> Result:
    token = token_and_project(args)
    if args.warning > args.critical:
        raise CheckError("--warning must not be above --critical")
    query = f"is:unresolved level:error lastSeen:-{args.hours}h"
    listing = list_issues(args, token, {"query": query})
    issues, truncated, elsewhere = listing.issues, listing.truncated, listing.next_page_host
    count = len(issues)
    code = CRITICAL if count > args.critical else WARNING if count > args.warning else OK
    if truncated and code == OK:
        code = UNKNOWN  # more may exist: too few counted to say OK
    shown = [str(issue.get("shortId")) for issue in issues[:3] if issue.get("shortId")]
    message = (
        f"{count}{'+' if truncated else ''} unresolved error issues in {args.org}/{args.project}"
        f" in the last {args.hours} h (warning above {args.warning},"
        f" critical above {args.critical})"
        + (f": {', '.join(shown)}{', ...' if count > len(shown) else ''}" if shown else "")
        + (
            f" (next page not followed: its link points to {elsewhere}, not --sentry-url)"
            if elsewhere
            else ""
        )
    )
    details = {
        "issues": count,
        "truncated": truncated,
        "pages": listing.pages,
        "next_page_host": elsewhere or None,
        "hours": args.hours,
        "warning": args.warning,
        "critical": args.critical,
        "org": args.org,
        "project": args.project,
        "sentry_url": display_url(args.sentry_url.rstrip("/")),
    }
    return Result(
        "errors", code, message, details, f"issues={count};{args.warning};{args.critical};0"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    parser.add_argument("--hours", type=number(int, 1), default=1, help="window in hours (1)")


CHECK = Check(check_errors, add_arguments, secret_variables=("SENTRY_AUTH_TOKEN",))
