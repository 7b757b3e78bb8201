"""`manage.py sentry_alerts plan|apply`: Sentry alert rules and monitors from alerts.yaml.

    plan [--exit-code]   what apply would change (exit 2 with --exit-code when something would)
    apply [--prune]      make Sentry match the file; --prune also deletes what we own and the
                         file no longer lists

Exit status 0 when done, 1 on any error (one sentence on stderr), 2 from `plan --exit-code`
with changes pending. SENTRY_AUTH_TOKEN is read from the environment only and never
printed; SENTRY_URL, SENTRY_ORG, SENTRY_PROJECT and SENTRY_ALERT_INTEGRATION too (the
flags override them). See docs/alerting.md, "Alerts as code".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...sentry_api import SentryApiError, SentryClient
from ...sentry_rules.apply import apply_plan
from ...sentry_rules.desired import build_desired, find_integration, needs_integration
from ...sentry_rules.plan import (
    CREATE,
    REMOVED,
    UNCHANGED,
    UPDATE,
    Change,
    Endpoints,
    list_remote,
    make_plan,
)
from ...sentry_rules.spec import SpecError, load_spec

DEFAULT_FILE = Path(settings.BASE_DIR) / "deploy" / "sentry" / "alerts.yaml"
PENDING_EXIT_CODE = 2


class Command(BaseCommand):
    help = (
        "Show (plan) or make (apply) the difference between deploy/sentry/alerts.yaml and Sentry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["plan", "apply"])
        parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the rules file")
        parser.add_argument(
            "--sentry-url", default=os.environ.get("SENTRY_URL") or "https://sentry.io"
        )
        parser.add_argument("--org", default=os.environ.get("SENTRY_ORG", ""))
        parser.add_argument("--project", default=os.environ.get("SENTRY_PROJECT", ""))
        parser.add_argument(
            "--integration",
            default=os.environ.get("SENTRY_ALERT_INTEGRATION", ""),
            help="name of the internal integration alerts notify (SENTRY_ALERT_INTEGRATION)",
        )
        parser.add_argument(
            "--prune", action="store_true", help="apply: delete owned objects the file dropped"
        )
        parser.add_argument(
            "--exit-code",
            action="store_true",
            help=f"plan: exit {PENDING_EXIT_CODE} when changes are pending",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            spec = load_spec(options["file"])
        except SpecError as error:
            raise CommandError(str(error)) from None
        token = os.environ.get("SENTRY_AUTH_TOKEN", "").strip()
        missing = [
            name
            for name, value in (
                ("SENTRY_AUTH_TOKEN", token),
                ("SENTRY_ORG (or --org)", options["org"]),
                ("SENTRY_PROJECT (or --project)", options["project"]),
            )
            if not value
        ]
        if needs_integration(spec) and not options["integration"]:
            missing.append("SENTRY_ALERT_INTEGRATION (or --integration)")
        if missing:
            raise CommandError(f"Missing {', '.join(missing)}; see docs/alerting.md.")
        client = SentryClient(options["sentry_url"], token, options["org"])
        endpoints = Endpoints(options["org"], options["project"])
        try:
            self._run(client, endpoints, spec, options)
        except SentryApiError as error:
            raise CommandError(str(error)) from None

    def _run(
        self, client: SentryClient, endpoints: Endpoints, spec: Any, options: dict[str, Any]
    ) -> None:
        from config.celery_app import app as celery_app

        integration = (
            find_integration(client, options["integration"]) if needs_integration(spec) else None
        )
        desired = build_desired(
            spec, endpoints.project, settings.CELERY_BEAT_SCHEDULE, celery_app, integration
        )
        plan = make_plan(desired, list_remote(client, endpoints), spec.prefix)
        self.stdout.write(
            f"{spec.path} against {endpoints.org}/{endpoints.project} on {client.base_url}:"
        )
        for change in plan.changes:
            self.stdout.write(_line(change, options["prune"] and options["action"] == "apply"))
        for what, why in plan.skipped:
            self.stdout.write(f"  skipped            {what}: {why}")
        self.stdout.write(
            f"{len(plan.of(CREATE))} to create, {len(plan.of(UPDATE))} to update,"
            f" {len(plan.of(UNCHANGED))} unchanged, {len(plan.of(REMOVED))} owned but removed"
            " from the file."
        )
        if options["action"] == "plan":
            if options["exit_code"] and plan.pending:
                raise SystemExit(PENDING_EXIT_CODE)
            return
        written = apply_plan(
            client,
            endpoints,
            plan,
            prune=options["prune"],
            report=lambda change, done: self.stdout.write(
                f"  {done:<18} {change.kind:<15} {change.name}"
            ),
        )
        self.stdout.write(
            f"Applied: {written} written." if written else "Applied: nothing to change."
        )


def _line(change: Change, pruning: bool) -> str:
    detail = ""
    if change.action == UPDATE:
        detail = f" ({', '.join(change.fields)})"
    elif change.action == REMOVED:
        detail = (
            " (deleted by this apply --prune)" if pruning else " (deleted only by apply --prune)"
        )
    if change.note:
        detail += f" [{change.note}]"
    return f"  {change.action:<18} {change.kind:<15} {change.name}{detail}"
