"""Alert delivery tasks: one message per delivery (a row of the outbox), one queue per channel.

The message carries only the delivery's id; the row says what to send and whether
it still must be (outbox.py). Each channel retries on its own, so a Slack outage
never re-sends a page that PagerDuty already took. Each attempt that ends in
"sent", "retried" or "failed" is sent as the alert_delivery signal (signals.py).
"""

from __future__ import annotations

import random

import structlog
from celery import Task, shared_task
from django.conf import settings

from . import alert_path, outbox, trends
from .alerts import Alert, Severity
from .channels import CHANNELS, DeliveryError, EmailChannel, post_json
from .signals import alert_delivery

logger = structlog.get_logger(__name__)

# Cap on a server's Retry-After (beyond it the broker may redeliver the message).
RETRY_AFTER_MAX = 15 * 60
DIGEST_TRIES = 4


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential back-off with jitter; never sooner than the server's Retry-After."""
    ceiling = min(
        settings.ALERT_RETRY_BACKOFF_MAX, settings.ALERT_RETRY_BACKOFF * 2 ** (attempt - 1)
    )
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
    return delay


@shared_task(bind=True, acks_late=True, ignore_result=True)
def send_delivery(self: Task[[int], str], delivery_id: int) -> str:
    """Send one delivery: "sent", "retried", "failed", or why it was not sent (outbox.claim)."""
    claim = outbox.claim(delivery_id, inline=bool(self.request.is_eager))
    if isinstance(claim, str):
        return claim
    delivery, alert, channel = claim.delivery, claim.alert, claim.channel
    log = logger.bind(channel=channel.name, alert_id=alert.id, severity=str(alert.severity))
    try:
        channel.send(alert)
    except DeliveryError as exc:
        if not exc.retryable or delivery.attempts >= settings.ALERT_MAX_TRIES:
            log.error("alert delivery gave up", tries=delivery.attempts, error=str(exc))
            outbox.mark_failed(delivery, str(exc))
            alert_delivery.send(sender=type(channel), channel=channel.name, outcome="failed")
            escalate(alert, channel.name, str(exc))
            return "failed"
        delay = backoff_seconds(delivery.attempts, exc.retry_after)
        log.warning(
            "alert delivery failed, retrying",
            tries=delivery.attempts,
            error=str(exc),
            retry_in=delay,
        )
        outbox.mark_retry(delivery, str(exc), delay)
        alert_delivery.send(sender=type(channel), channel=channel.name, outcome="retried")
        return "retried"
    except BaseException:
        outbox.release(delivery)  # an unexpected error: due again, let Celery report this one
        raise
    outbox.mark_sent(delivery)
    log.info("alert delivered", tries=delivery.attempts)
    alert_delivery.send(sender=type(channel), channel=channel.name, outcome="sent")
    return "sent"


def escalate(alert: Alert, channel: str, error: str) -> None:
    """A page that could not be delivered goes to every other channel, saying so."""
    if channel != "pagerduty" or alert.severity is not Severity.CRITICAL:
        return
    others = [item for item in CHANNELS.values() if item.name != channel and item.enabled()]
    if not others:
        logger.error("page undeliverable and no other channel to escalate to", alert_id=alert.id)
        return
    escalation = Alert(
        id=f"{alert.id}:escalated",
        title=f"PagerDuty could not be paged ({error}): {alert.title}",
        severity=Severity.CRITICAL,
        url=alert.url,
        project=alert.project,
        environment=alert.environment,
        fingerprint=alert.fingerprint,
    )
    outbox.record_alert(escalation, source="escalation", channels=others)


@shared_task(ignore_result=True)
def sweep_deliveries() -> int:
    """Beat's periodic safety net: queue again what no message is coming for (outbox.sweep)."""
    return outbox.sweep()


@shared_task(ignore_result=True)
def send_trend_digest() -> list[str]:
    """Beat's digest of Sentry's error trends (trends.py); the channels it was queued to."""
    period = {"daily": "day", "weekly": "week"}[settings.SENTRY_TREND_DIGEST]
    try:
        report = trends.read_trends(period)
    except trends.TrendsUnavailable as exc:
        logger.error("error-trend digest not sent: the numbers are unavailable", reason=str(exc))
        return []
    digest = trends.digest(report)
    channels = [name for name in ("slack", "email") if CHANNELS[name].enabled()]
    if not channels:
        logger.warning("error-trend digest has no channel (SLACK_WEBHOOK_URL, ALERT_EMAILS)")
    for name in channels:
        deliver_trend_digest.delay(
            name, digest.subject, digest.slack if name == "slack" else digest.text
        )
    return channels


@shared_task(bind=True, ignore_result=True, max_retries=DIGEST_TRIES - 1)
def deliver_trend_digest(
    self: Task[[str, str, str], None], channel: str, subject: str, text: str
) -> None:
    """One channel's copy of the digest. A digest is no alert: no outbox, a few tries."""
    attempt = self.request.retries + 1
    while True:
        try:
            if channel == "slack":
                post_json(settings.SLACK_WEBHOOK_URL, {"text": text, "unfurl_links": False})
            else:
                EmailChannel.mail(subject, text)
            return
        except DeliveryError as exc:
            if not exc.retryable or attempt >= DIGEST_TRIES:
                logger.error(
                    "error-trend digest not delivered",
                    channel=channel,
                    tries=attempt,
                    error=str(exc),
                )
                return
            if not self.request.is_eager:
                raise self.retry(countdown=backoff_seconds(attempt, exc.retry_after)) from None
            attempt += 1  # inline (no broker): nothing would wake a retry, try at once


@shared_task(ignore_result=True)
def check_alert_path() -> bool:
    """Beat's periodic probe of the whole alert path (alert_path.py); True while it works."""
    return not alert_path.check().broken


@shared_task(acks_late=True)
def dispatch_alert(alert_data: dict[str, str]) -> list[str]:
    """Record an alert made in a worker (stuck tasks, missed beats) or queued by an earlier
    version; the channel names it goes to (empty when it was recorded already)."""
    alert = Alert.from_dict(alert_data)
    deliveries = outbox.record_alert(alert, source="task")
    if deliveries is None:
        return []
    if not deliveries:
        logger.warning("alert has no enabled channel", alert_id=alert.id, severity=alert.severity)
    return [delivery.channel for delivery in deliveries]


@shared_task(acks_late=True, ignore_result=True)
def deliver_alert(channel_name: str, alert_data: dict[str, str], attempt: int = 1) -> None:
    """A message of the version before the outbox (queued before an upgrade): recorded in
    the outbox and delivered from there. Kept for one release (CHANGELOG.md)."""
    outbox.adopt_legacy_delivery(Alert.from_dict(alert_data), channel_name)
