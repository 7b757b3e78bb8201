"""`manage.py send_test_alert [--severity ...]`: a synthetic alert through the real path.

The alert is recorded and queued the way a Sentry webhook's is, so it proves the
database, the worker, the channel settings and the channels themselves. Run it after every
change to the alerting setup, and now and then ("test your alerts regularly").
"""

import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...alerts import Alert, Severity
from ...channels import channels_for
from ...outbox import record_alert


class Command(BaseCommand):
    help = "Send a synthetic alert through the alert outbox and the delivery tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--severity",
            choices=[severity.value for severity in Severity],
            default=Severity.WARNING.value,
            help="critical pages PagerDuty; send 'resolved' afterwards to close the test incident.",
        )

    def handle(self, *args: object, severity: str, **options: object) -> None:
        alert = Alert(
            id=uuid.uuid4().hex,
            title=f"Test alert ({severity}) from {settings.ENVIRONMENT}: alerting works",
            severity=Severity(severity),
            project="{{ cookiecutter.project_slug }}",
            environment=settings.ENVIRONMENT,
            # Stable, so `--severity resolved` closes the incident a critical test opened.
            fingerprint="{{ cookiecutter.project_slug }}-test-alert",
        )
        channels = [channel.name for channel in channels_for(alert)]
        if not channels:
            raise CommandError(
                f"No channel is configured for {severity} alerts here: set SLACK_WEBHOOK_URL, "
                "PAGERDUTY_ROUTING_KEY or ALERT_EMAILS (see docs/alerting.md)."
            )
        record_alert(alert, source="test")
        self.stdout.write(f"Queued test alert {alert.id} ({severity}) for: {', '.join(channels)}.")
