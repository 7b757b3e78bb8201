"""Sentry's issues API for the checks of scripts/monitor.py: auth, pagination, clear errors.

Standard library only, as monitor.py. The token (scope project:read) is sent to
--sentry-url only: a next page announced on another host (a self-hosted Sentry
behind an internal address links to its public URL) is not followed, and the
listing is reported as cut short.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from monitor_http import display_url, http_get, parse_json
from monitor_nagios import CheckError, number

MAX_PAGES = 50  # 100 issues a page
RATE_LIMIT_TRIES = 3
RATE_LIMIT_WAIT_MAX = 5.0  # seconds
LINK = re.compile(r"<([^>]*)>([^,]*)")


@dataclass
class Listing:
    """The issues read, and why the listing may be incomplete."""

    issues: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    truncated: bool = False  # more pages exist than were read
    next_page_host: str = ""  # set when the next page was on another host


def next_page(link_header: str) -> str:
    """The rel="next" URL of a Sentry Link header, if it says more results exist."""
    links: list[tuple[str, str]] = LINK.findall(link_header)
    for url, params in links:
        if 'rel="next"' in params and 'results="true"' in params:
            return url
    return ""


def token_and_project(args: argparse.Namespace) -> str:
    """SENTRY_AUTH_TOKEN, once --org and --project are known; CheckError names what is missing."""
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
    return token


def _get(url: str, timeout: float, token: str) -> tuple[int, Any, bytes]:
    """One page; a 429 (the endpoint allows 5 requests a second) waits and tries again."""
    for _ in range(RATE_LIMIT_TRIES - 1):
        status, headers, body = http_get(url, timeout, token=token)
        if status != 429:
            return status, headers, body
        wait = headers.get("Retry-After", "1")
        time.sleep(min(float(wait), RATE_LIMIT_WAIT_MAX) if wait.isdigit() else 1.0)
    return http_get(url, timeout, token=token)


def list_issues(args: argparse.Namespace, token: str, params: dict[str, str | int]) -> Listing:
    """Every page of the project's issues matching `params` (up to MAX_PAGES)."""
    base = args.sentry_url.rstrip("/")
    project = f"{quote(args.org, safe='')}/{quote(args.project, safe='')}"
    url = f"{base}/api/0/projects/{project}/issues/?{urlencode({**params, 'limit': 100})}"
    origin = urlsplit(base)[:2]
    listing = Listing()
    while url and listing.pages < MAX_PAGES:
        listing.pages += 1
        status, headers, body = _get(url, args.timeout, token)
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
        listing.issues.extend(issue for issue in page if isinstance(issue, dict))
        url = next_page(headers.get("Link", ""))
        if url and urlsplit(url)[:2] != origin:
            parts = urlsplit(url)
            listing.next_page_host = display_url(f"{parts.scheme}://{parts.netloc}")
            break
    listing.truncated = bool(url)
    return listing


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every Sentry check shares; the first check to ask adds them."""
    env = os.environ.get
    try:
        parser.add_argument("--sentry-url", default=env("SENTRY_URL") or "https://sentry.io")
    except argparse.ArgumentError:  # another Sentry check added them
        return
    parser.add_argument(
        "--org", default=env("SENTRY_ORG", ""), help="organization slug (SENTRY_ORG)"
    )
    parser.add_argument(
        "--project", default=env("SENTRY_PROJECT", ""), help="project slug (SENTRY_PROJECT)"
    )
    parser.add_argument(
        "--warning", type=number(int, 0), default=5, help="WARNING above this many issues (5)"
    )
    parser.add_argument(
        "--critical", type=number(int, 0), default=10, help="CRITICAL above this many issues (10)"
    )
