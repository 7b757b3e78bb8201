"""Alert delivery: one task routes an alert, then one task per channel delivers it.

Each channel retries on its own, so a Slack outage never re-sends a page that
PagerDuty already took. A delivery is claimed in the cache before sending and
marked sent after: a redelivered or re-published task finds the mark and sends
nothing. (A worker killed between sending and marking resends once the claim
expires: at least once, never silently dropped.) Each attempt that ends in "sent",
"retried" or "failed" is sent as the alert_delivery signal (signals.py).
"""

from __future__ import annotations

import random

import structlog
from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

from .alerts import Alert
from .channels import CHANNELS, DeliveryError, channels_for
from .signals import alert_delivery

logger = structlog.get_logger(__name__)

SENDING, SENT = "sending", "sent"
# Longer than one send can take (timeouts); a crashed send is retried after it.
CLAIM_SECONDS = 120
# How long a delivery is remembered.
SENT_SECONDS = 7 * 24 * 3600
# Cap on a server's Retry-After (beyond it the broker may redeliver the message).
RETRY_AFTER_MAX = 15 * 60


@shared_task(acks_late=True)
def dispatch_alert(alert_data: dict[str, str]) -> list[str]:
    """Queue one delivery per enabled channel of the alert's severity."""
    alert = Alert.from_dict(alert_data)
    names = [channel.name for channel in channels_for(alert)]
    if not names:
        logger.warning("alert has no enabled channel", alert_id=alert.id, severity=alert.severity)
    for name in names:
        deliver_alert.delay(name, alert.to_dict())
    return names


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential back-off with jitter; never sooner than the server's Retry-After."""
    ceiling = min(
        settings.ALERT_RETRY_BACKOFF_MAX, settings.ALERT_RETRY_BACKOFF * 2 ** (attempt - 1)
    )
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
    return delay


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver_alert(
    self: Task, channel_name: str, alert_data: dict[str, str], attempt: int = 1
) -> str:
    """Send one alert to one channel: "sent", "duplicate", "disabled", "claimed" or "failed"."""
    alert = Alert.from_dict(alert_data)
    channel = CHANNELS[channel_name]
    log = logger.bind(channel=channel_name, alert_id=alert.id, severity=str(alert.severity))
    if not channel.enabled():
        return "disabled"
    key = f"alerts:delivery:{channel_name}:{alert.id}"
    if not cache.add(key, SENDING, timeout=CLAIM_SECONDS):
        if cache.get(key) == SENT:
            log.info("alert already delivered, not sending it again")
            return "duplicate"
        if attempt >= settings.ALERT_MAX_TRIES:
            log.warning("alert delivery left to the worker that claimed it", tries=attempt)
            return "claimed"
        # Another worker is sending it, or died doing so: look again once the claim expires.
        raise self.retry(
            args=(channel_name, alert.to_dict()),
            kwargs={"attempt": attempt + 1},
            countdown=CLAIM_SECONDS,
        )
    try:
        channel.send(alert)
    except DeliveryError as exc:
        cache.delete(key)
        if not exc.retryable or attempt >= settings.ALERT_MAX_TRIES:
            log.error("alert delivery gave up", tries=attempt, error=str(exc))
            alert_delivery.send(sender=type(channel), channel=channel_name, outcome="failed")
            return "failed"
        delay = backoff_seconds(attempt, exc.retry_after)
        log.warning(
            "alert delivery failed, retrying", tries=attempt, error=str(exc), retry_in=delay
        )
        alert_delivery.send(sender=type(channel), channel=channel_name, outcome="retried")
        raise self.retry(
            args=(channel_name, alert.to_dict()), kwargs={"attempt": attempt + 1}, countdown=delay
        ) from None
    except BaseException:
        cache.delete(key)  # an unexpected error: free the claim, let Celery report it
        raise
    cache.set(key, SENT, timeout=SENT_SECONDS)
    log.info("alert delivered", tries=attempt)
    alert_delivery.send(sender=type(channel), channel=channel_name, outcome="sent")
    return "sent"
