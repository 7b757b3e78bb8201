"""The channels that deliver alerts: Slack, PagerDuty Events API v2, e-mail.

A channel is off while its setting (SLACK_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY,
ALERT_EMAILS) is empty. `channels_for` routes an alert by severity
(docs/alerting.md):
    critical -> PagerDuty (trigger) + Slack
    warning  -> Slack
    info     -> e-mail
    resolved -> PagerDuty (resolve) + Slack
The tasks (tasks.py) deliver to one channel at a time, each channel on a queue of its
own (outbox.py).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail

from .alerts import Alert, Severity, one_line


class DeliveryError(Exception):
    """A channel could not deliver. `retryable`: trying again later may work."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def post_json(url: str, payload: Mapping[str, object]) -> None:
    """POST JSON with a timeout. Network errors, 429 and 5xx are retryable; other 4xx are not.

    Error messages never carry the URL: a Slack webhook URL is a secret.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError("the channel URL is not an http(s) URL", retryable=False)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        timeout = settings.ALERT_HTTP_TIMEOUT
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        retry_after = parse_retry_after(exc.headers.get("Retry-After"))
        exc.close()
        retryable = exc.code == 429 or exc.code >= 500
        raise DeliveryError(
            f"HTTP {exc.code}", retryable=retryable, retry_after=retry_after
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"network error: {reason}", retryable=True) from None


class Channel:
    name: str

    def enabled(self) -> bool:
        raise NotImplementedError

    def timeout(self) -> float:
        """The longest one send may take (s): how long a delivery stays claimed, plus a margin."""
        return settings.ALERT_HTTP_TIMEOUT

    def send(self, alert: Alert) -> None:
        raise NotImplementedError


SLACK_ICONS = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
    Severity.RESOLVED: ":white_check_mark:",
}


def slack_escape(text: str) -> str:
    """Slack's three control characters: keeps `<!channel>` in an error message inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel(Channel):
    name = "slack"

    def enabled(self) -> bool:
        return bool(settings.SLACK_WEBHOOK_URL)

    @staticmethod
    def message(alert: Alert) -> dict[str, object]:
        lines = [
            f"{SLACK_ICONS[alert.severity]} *{alert.severity.upper()}* {slack_escape(alert.title)}"
        ]
        context = " · ".join(
            slack_escape(part) for part in (alert.project, alert.environment) if part
        )
        if context:
            lines.append(context)
        if alert.url:
            lines.append(f"<{alert.url}|Details>")
        return {"text": "\n".join(lines), "unfurl_links": False}

    def send(self, alert: Alert) -> None:
        post_json(settings.SLACK_WEBHOOK_URL, self.message(alert))


class PagerDutyChannel(Channel):
    """Events API v2: `trigger` for critical alerts, `resolve` for resolved ones."""

    name = "pagerduty"

    def enabled(self) -> bool:
        return bool(settings.PAGERDUTY_ROUTING_KEY)

    @staticmethod
    def event(alert: Alert) -> dict[str, object]:
        event: dict[str, object] = {
            "routing_key": settings.PAGERDUTY_ROUTING_KEY,
            "dedup_key": alert.fingerprint,
        }
        if alert.severity is Severity.RESOLVED:
            return {**event, "event_action": "resolve"}
        event["event_action"] = "trigger"
        event["payload"] = {
            "summary": alert.title,
            "source": alert.project or "sentry",
            "severity": "critical",
            "custom_details": {"environment": alert.environment, "project": alert.project},
        }
        if alert.url:
            event["links"] = [{"href": alert.url, "text": "Details"}]
        return event

    def send(self, alert: Alert) -> None:
        post_json(settings.PAGERDUTY_EVENTS_URL, self.event(alert))


class EmailChannel(Channel):
    """Django's mail framework (EMAIL_BACKEND, EMAIL_HOST...) to every ALERT_EMAILS address."""

    name = "email"

    def enabled(self) -> bool:
        return bool(settings.ALERT_EMAILS)

    def timeout(self) -> float:
        return settings.EMAIL_TIMEOUT  # per socket operation, Django's own setting

    def send(self, alert: Alert) -> None:
        subject = one_line(f"[{alert.severity.upper()}] {alert.title}", 200)
        details = {
            "Severity": alert.severity,
            "Project": alert.project,
            "Environment": alert.environment,
            "Link": alert.url,
        }
        body = "\n".join(f"{key}: {value}" for key, value in details.items() if value)
        self.mail(subject, f"{alert.title}\n\n{body}\n")

    @staticmethod
    def mail(subject: str, body: str) -> None:
        """Send to ALERT_EMAILS; the mail server's refusals as DeliveryErrors."""
        try:
            send_mail(subject, body, None, settings.ALERT_EMAILS)
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("the mail server refused ALERT_EMAILS", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            # 4xx: try again later; 5xx: permanent.
            retryable = exc.smtp_code < 500
            raise DeliveryError(f"SMTP {exc.smtp_code}", retryable=retryable) from None
        except OSError as exc:  # connection refused, timeout, TLS, other SMTP errors
            raise DeliveryError(f"mail error: {exc.__class__.__name__}", retryable=True) from None


CHANNELS: dict[str, Channel] = {
    channel.name: channel for channel in (PagerDutyChannel(), SlackChannel(), EmailChannel())
}
ROUTES: dict[Severity, tuple[str, ...]] = {
    Severity.CRITICAL: ("pagerduty", "slack"),
    Severity.WARNING: ("slack",),
    Severity.INFO: ("email",),
    Severity.RESOLVED: ("pagerduty", "slack"),
}


def channels_for(alert: Alert) -> list[Channel]:
    """The enabled channels this alert's severity goes to."""
    channels = (CHANNELS[name] for name in ROUTES[alert.severity])
    return [channel for channel in channels if channel.enabled()]
