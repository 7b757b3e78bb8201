#!/usr/bin/env python3
"""Nagios-style checks: the application's /health/{% if cookiecutter.use_sentry == "y" %} and Sentry's recent errors{% endif %}.

    python scripts/monitor.py --check health --url URL [--timeout S] [--json]
{%- if cookiecutter.use_sentry == "y" %}
    python scripts/monitor.py --check errors [--sentry-url URL] [--org ORG] [--project SLUG]
                              [--hours H] [--warning N] [--critical N] [--json]
{%- endif %}

Exit codes follow the Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (unreachable, timeout, unexpected answer, missing setting). Prints one
line, or one JSON object with --json. Standard library only: it runs from cron,
a scheduled job or a Nagios/Icinga server without the project installed.

health: GET <url>/health/; healthy -> 0, degraded -> 1, unhealthy -> 2; each
failing check is listed. HEALTH_CHECK_TOKEN, when set, is sent as a bearer token
so the answer includes the checks' messages.
{%- if cookiecutter.use_sentry == "y" %}

errors: counts the unresolved error-level issues of a project seen in the last
H hours (Sentry's issues API, following its pagination). Above --warning -> 1,
above --critical -> 2. The token comes from SENTRY_AUTH_TOKEN only (scope
project:read) and is never printed; SENTRY_URL, SENTRY_ORG and SENTRY_PROJECT
are the defaults of --sentry-url, --org and --project.
{%- endif %}
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
{%- if cookiecutter.use_sentry == "y" %}
import re
{%- endif %}
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import {% if cookiecutter.use_sentry == "y" %}quote, urlencode, {% endif %}urlsplit, urlunsplit

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
HEALTH_CODES = {"healthy": OK, "degraded": WARNING, "unhealthy": CRITICAL}
MAX_BODY_BYTES = 1024 * 1024
# Never printed, even inside an error message.
SECRET_VARIABLES = [
    "HEALTH_CHECK_TOKEN",
{%- if cookiecutter.use_sentry == "y" %}
    "SENTRY_AUTH_TOKEN",
{%- endif %}
]
{%- if cookiecutter.use_sentry == "y" %}
MAX_PAGES = 50  # 100 issues a page
LINK = re.compile(r"<([^>]*)>([^,]*)")
{%- endif %}


class CheckError(Exception):
    """The check could not run: reported as UNKNOWN."""


@dataclass
class Result:
    check: str
    code: int
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    perfdata: str = ""


def display_url(url: str) -> str:
    """The URL without user:password@."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def http_get(url: str, timeout: float, token: str = "") -> tuple[int, Any, bytes]:
    """GET with an overall deadline; returns (status, headers, body) for any HTTP status."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise CheckError(f"not an http(s) URL: {display_url(url)}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    if token:
        # Not forwarded if the server redirects elsewhere.
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    deadline = time.monotonic() + timeout
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked
    except urllib.error.HTTPError as exc:
        response = exc  # an error status still has headers and a body (503 from /health/)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise CheckError(f"{display_url(url)} timed out after {timeout:g} s") from None
        raise CheckError(f"cannot reach {display_url(url)}: {reason}") from None
    with response:
        chunks, size = [], 0
        try:
            while chunk := response.read(64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise CheckError(f"{display_url(url)} answered more than 1 MiB")
                if time.monotonic() > deadline:
                    raise CheckError(f"{display_url(url)} timed out after {timeout:g} s")
        except TimeoutError:
            raise CheckError(f"{display_url(url)} timed out after {timeout:g} s") from None
        except (http.client.HTTPException, OSError) as exc:
            raise CheckError(
                f"{display_url(url)} failed mid-answer: {exc.__class__.__name__}"
            ) from None
        return response.status, response.headers, b"".join(chunks)


def parse_json(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise CheckError(f"{display_url(url)} did not answer JSON") from None


def health_url(url: str) -> str:
    parts = urlsplit(url.strip())
    path = (
        parts.path
        if parts.path.rstrip("/").endswith("/health")
        else parts.path.rstrip("/") + "/health/"
    )
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def check_health(args: argparse.Namespace) -> Result:
    if not args.url:
        raise CheckError("--url is required for --check health")
    url = health_url(args.url)
    status, _, body = http_get(url, args.timeout, token=os.environ.get("HEALTH_CHECK_TOKEN", ""))
    report = parse_json(body, url)
    state = report.get("status") if isinstance(report, dict) else None
    if state not in HEALTH_CODES:
        raise CheckError(f"{display_url(url)} answered HTTP {status} without a health status")
    checks = report.get("checks") if isinstance(report.get("checks"), dict) else {}
    failing = {
        name: {
            "status": str(check.get("status")),
            "message": " ".join(str(check.get("message") or "").split()),
        }
        for name, check in checks.items()
        if isinstance(check, dict) and check.get("status") != "ok"
    }
    if failing:
        listed = (
            f"{name}={check['status']}" + (f" ({check['message']})" if check["message"] else "")
            for name, check in failing.items()
        )
        message = f"{state}: " + ", ".join(listed)
    else:
        message = f"{state} ({len(checks)} checks ok)"
    details = {"url": display_url(url), "http_status": status, "health": state, "failing": failing}
    return Result("health", HEALTH_CODES[state], message, details)
{%- if cookiecutter.use_sentry == "y" %}


def next_page(link_header: str) -> str:
    """The rel="next" URL of a Sentry Link header, if it says more results exist."""
    for url, params in LINK.findall(link_header):
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
    pages = 0
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
            raise CheckError("Sentry's pagination link points to another host")
    truncated = bool(url)
    count = len(issues)
    code = CRITICAL if count > args.critical else WARNING if count > args.warning else OK
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
    )
    details = {
        "issues": count,
        "truncated": truncated,
        "pages": pages,
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
{%- endif %}


CHECKS = {
    "health": check_health,
{%- if cookiecutter.use_sentry == "y" %}
    "errors": check_errors,
{%- endif %}
}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's exit status 2 would read as CRITICAL to Nagios.
        self.print_usage(sys.stderr)
        report(Result("monitor", UNKNOWN, message), as_json="--json" in sys.argv)
        sys.exit(UNKNOWN)


def number(kind: type, minimum: float) -> Any:
    """An argparse type: a number of `kind`, at least `minimum` (and sane)."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not minimum <= value < 1e6:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}: {text!r}")
        return value

    return convert


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", required=True, choices=sorted(CHECKS))
    parser.add_argument("--url", help="base URL of the application (health)")
    parser.add_argument(
        "--timeout", type=number(float, 0.1), default=10.0, help="seconds per request (10)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
{%- if cookiecutter.use_sentry == "y" %}
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
{%- endif %}
    return parser.parse_args(argv)


def report(result: Result, as_json: bool) -> None:
    label = LABELS[result.code]
    if as_json:
        payload = {
            "check": result.check,
            "status": label,
            "code": result.code,
            "message": result.message,
        }
        text = json.dumps({**payload, **result.details})
    else:
        text = f"{result.check.upper()} {label} - {result.message}"
        if result.perfdata:
            text += f" | {result.perfdata}"
    for name in SECRET_VARIABLES:
        secret = os.environ.get(name, "").strip()
        if secret:
            text = text.replace(secret, "***")
    print(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = CHECKS[args.check](args)
    except CheckError as exc:
        result = Result(args.check, UNKNOWN, str(exc))
    report(result, args.json)
    return result.code


if __name__ == "__main__":
    sys.exit(main())
