"""--check errors: the unresolved error-level issues of a Sentry project.

Counts the issues seen in the last H hours (Sentry's issues API, following its
pagination). Above --warning -> 1, above --critical -> 2. A count cut short (50 pages,
or a next page on another host, which a self-hosted Sentry behind an internal address
announces under its public URL: the token is not sent there) reads "100+"; it still
justifies WARNING or CRITICAL, and is UNKNOWN when it stays below --warning. The token comes from
SENTRY_AUTH_TOKEN only (scope project:read) and is never printed; SENTRY_URL,
SENTRY_ORG and SENTRY_PROJECT are the defaults of --sentry-url, --org and --project.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from monitor_http import display_url, http_get, parse_json
from monitor_nagios import CRITICAL, OK, UNKNOWN, WARNING, Check, CheckError, Result, number

MAX_PAGES = 50  # 100 issues a page
LINK = re.compile(r"<([^>]*)>([^,]*)")


def next_page(link_header: str) -> str:
    """The rel="next" URL of a Sentry Link header, if it says more results exist."""
    links: list[tuple[str, str]] = LINK.findall(link_header)
    for url, params in links:
        if 'rel="next"' in params and 'results="true"' in params:
            return url
    return ""


def check_errors(args: argparse.Namespace) -> Result:
    token = os.environ.get("SENTRY_AUTH_TOKEN", "").strip()
    missing = [
        name
        for name, value in (
            ("SENTRY_AUTH_TOKEN", token),
            ("--org (or SENTRY_ORG)", args.org),
            ("--project (or SENTRY_PROJECT)", args.project),
        )
        if not value
    ]
    if missing:
        raise CheckError(f"missing {', '.join(missing)}")
    if args.warning > args.critical:
        raise CheckError("--warning must not be above --critical")
    base = args.sentry_url.rstrip("/")
    query = urlencode({"query": f"is:unresolved level:error lastSeen:-{args.hours}h", "limit": 100})
    project = f"{quote(args.org, safe='')}/{quote(args.project, safe='')}"
    url = f"{base}/api/0/projects/{project}/issues/?{query}"
    origin = urlsplit(base)[:2]
    issues: list[Any] = []
    pages, elsewhere = 0, ""
    while url and pages < MAX_PAGES:
        pages += 1
        status, headers, body = http_get(url, args.timeout, token=token)
        if status in (401, 403):
            raise CheckError(
                f"Sentry answered HTTP {status}: check SENTRY_AUTH_TOKEN (scope project:read)"
            )
        if status == 404:
            raise CheckError(
                f"Sentry answered HTTP 404: check --org {args.org!r} and --project {args.project!r}"
            )
        if status != 200:
            raise CheckError(f"Sentry answered HTTP {status}")
        page = parse_json(body, url)
        if not isinstance(page, list):
            raise CheckError("Sentry's answer is not a list of issues")
        issues.extend(page)
        url = next_page(headers.get("Link", ""))
        if url and urlsplit(url)[:2] != origin:
            elsewhere = display_url(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
            break
    truncated = bool(url)
    count = len(issues)
    code = CRITICAL if count > args.critical else WARNING if count > args.warning else OK
    if truncated and code == OK:
        code = UNKNOWN  # more may exist: too few counted to say OK
    shown = [
        str(issue.get("shortId"))
        for issue in issues[:3]
        if isinstance(issue, dict) and issue.get("shortId")
    ]
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
        "pages": pages,
        "next_page_host": elsewhere or None,
        "hours": args.hours,
        "warning": args.warning,
        "critical": args.critical,
        "org": args.org,
        "project": args.project,
        "sentry_url": display_url(base),
    }
    return Result(
        "errors", code, message, details, f"issues={count};{args.warning};{args.critical};0"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--sentry-url", default=env("SENTRY_URL") or "https://sentry.io")
    parser.add_argument(
        "--org", default=env("SENTRY_ORG", ""), help="organization slug (SENTRY_ORG)"
    )
    parser.add_argument(
        "--project", default=env("SENTRY_PROJECT", ""), help="project slug (SENTRY_PROJECT)"
    )
    parser.add_argument("--hours", type=number(int, 1), default=1, help="window in hours (1)")
    parser.add_argument(
        "--warning", type=number(int, 0), default=5, help="WARNING above this many issues (5)"
    )
    parser.add_argument(
        "--critical", type=number(int, 0), default=10, help="CRITICAL above this many issues (10)"
    )


CHECK = Check(check_errors, add_arguments, secret_variables=("SENTRY_AUTH_TOKEN",))
