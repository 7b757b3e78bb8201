#!/usr/bin/env python3
"""Nagios-style checks: the application's /health/{% if cookiecutter.use_sentry == "y" %}, Sentry's recent errors and error trends{% endif %}.

    python scripts/monitor.py --check health --url URL [--timeout S] [--json]
{%- if cookiecutter.use_sentry == "y" %}
    python scripts/monitor.py --check errors [--sentry-url URL] [--org ORG] [--project SLUG]
                              [--hours H] [--warning N] [--critical N] [--json]
    python scripts/monitor.py --check trends [--sentry-url URL] [--org ORG] [--project SLUG]
                              [--period day|week] [--warning N] [--critical N] [--json]
{%- endif %}

Exit codes follow the Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (unreachable, timeout, unexpected answer, missing setting). Prints one
line, or one JSON object with --json. Standard library only: it runs from cron,
a scheduled job or a Nagios/Icinga server without the project installed.

{% if cookiecutter.use_sentry == "y" -%}
Each check is a module next to this one (monitor_health.py, monitor_errors.py,
monitor_trends.py), sharing monitor_nagios.py, monitor_sentry.py and monitor_http.py:
copy scripts/monitor*.py together.
{% else -%}
Each check is a module next to this one (monitor_health.py), sharing monitor_nagios.py
and monitor_http.py: copy scripts/monitor*.py together.
{% endif -%}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
{% if cookiecutter.use_sentry == "y" %}
import monitor_errors
{%- endif %}
import monitor_health
{%- if cookiecutter.use_sentry == "y" %}
import monitor_trends
{%- endif %}
from monitor_nagios import LABELS, UNKNOWN, Check, CheckError, Result, number

# The --check choices, in the order their secrets are masked.
CHECKS: dict[str, Check] = {
    "health": monitor_health.CHECK,
{%- if cookiecutter.use_sentry == "y" %}
    "errors": monitor_errors.CHECK,
    "trends": monitor_trends.CHECK,
{%- endif %}
}
# Never printed, even inside an error message.
SECRET_VARIABLES = [name for check in CHECKS.values() for name in check.secret_variables]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's exit status 2 would read as CRITICAL to Nagios.
        self.print_usage(sys.stderr)
        report(Result("monitor", UNKNOWN, message), as_json="--json" in sys.argv)
        sys.exit(UNKNOWN)


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
    for check in CHECKS.values():
        if check.add_arguments is not None:
            check.add_arguments(parser)
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
        result = CHECKS[args.check].run(args)
    except CheckError as exc:
        result = Result(args.check, UNKNOWN, str(exc))
    report(result, args.json)
    return result.code


if __name__ == "__main__":
    sys.exit(main())
