"""--check health: GET <url>/health/; healthy -> 0, degraded -> 1, unhealthy -> 2.

Each failing check is listed. HEALTH_CHECK_TOKEN, when set, is sent as a bearer
token so the answer includes the checks' messages; it is never printed.
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import urlsplit, urlunsplit

from monitor_http import display_url, http_get, parse_json
from monitor_nagios import CRITICAL, OK, WARNING, Check, CheckError, Result

HEALTH_CODES = {"healthy": OK, "degraded": WARNING, "unhealthy": CRITICAL}


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


CHECK = Check(check_health, secret_variables=("HEALTH_CHECK_TOKEN",))
