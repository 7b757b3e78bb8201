"""Prometheus counters of alerting: webhook deliveries by outcome, alert deliveries by channel.

Recorded from the app's signals (signals.py), so the receiver and the tasks know nothing
of Prometheus; AlertingConfig.ready() imports this module. The metric objects follow the
rules of monitoring/metrics/instruments.py (multiprocess files, fixed label values).
"""

from django.dispatch import receiver
from prometheus_client import Counter

from ..monitoring.metrics.instruments import check_choice
from .signals import alert_delivery, webhook_received

WEBHOOK_OUTCOMES = (
    "accepted",
    "duplicate",
    "stale",
    "ignored",
    "unavailable",
    "bad_signature",
    "bad_request",
    "too_large",
    "not_configured",
)
ALERT_CHANNELS = ("slack", "pagerduty", "email")
ALERT_OUTCOMES = ("sent", "retried", "failed")
WEBHOOK_ALERTS = Counter(
    "webhook_alerts_received_total",
    "Sentry webhook deliveries received, by outcome.",
    ["outcome"],
)
ALERT_DISPATCHES = Counter(
    "alert_dispatches_total",
    "Alert deliveries to a channel, by outcome (retried: one failed attempt, retry queued).",
    ["channel", "outcome"],
)


def observe_webhook_alert(outcome: str) -> None:
    """Record one Sentry webhook delivery and what the receiver answered."""
    check_choice("webhook outcome", outcome, WEBHOOK_OUTCOMES)
    WEBHOOK_ALERTS.labels(outcome).inc()


def observe_alert_dispatch(channel: str, outcome: str) -> None:
    """Record one attempt to deliver an alert to `channel`."""
    check_choice("alert channel", channel, ALERT_CHANNELS)
    check_choice("alert dispatch outcome", outcome, ALERT_OUTCOMES)
    ALERT_DISPATCHES.labels(channel, outcome).inc()


@receiver(webhook_received, dispatch_uid="alerting.metrics.webhook_received")
def _count_webhook(sender: object, outcome: str, **_: object) -> None:
    observe_webhook_alert(outcome)


@receiver(alert_delivery, dispatch_uid="alerting.metrics.alert_delivery")
def _count_delivery(sender: object, channel: str, outcome: str, **_: object) -> None:
    observe_alert_dispatch(channel, outcome)
