"""Prometheus metrics of alerting: webhook deliveries by outcome, alert deliveries by channel,
the alert path's state (set by its periodic check, so the worker's exporter shows it).

Recorded from the app's signals (signals.py), so the receiver and the tasks know nothing
of Prometheus; AlertingConfig.ready() imports this module. The metric objects follow the
rules of monitoring/metrics/instruments.py (multiprocess files, fixed label values).
"""

from functools import cache

from django.dispatch import receiver
from prometheus_client import Counter, Gauge

from ..monitoring.metrics.instruments import check_choice
from .alert_path import PathState
from .signals import alert_delivery, alert_path_checked, webhook_received

WEBHOOK_OUTCOMES = (
    "accepted",
    "duplicate",
    "stale",
    "ignored",
    "probe",
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


@cache
def alert_path_gauges() -> tuple[Gauge, Gauge]:
    """Made by the first call, in the process that checks the path: a gauge made at import
    would write its 0 in every process, later than the check's value, and "mostrecent"
    would show that. Live: the values go with the process that set them (the next check,
    a minute later, sets them again)."""
    broken = Gauge(
        "alert_path_broken",
        "1 while the alert path's probe events do not come back through Sentry, else 0.",
        multiprocess_mode="livemostrecent",
    )
    last_round_trip = Gauge(
        "alert_path_last_round_trip_timestamp_seconds",
        "When a probe event last came back through Sentry's webhook (Unix time; 0: never).",
        multiprocess_mode="livemostrecent",
    )
    return broken, last_round_trip


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


@receiver(alert_path_checked, dispatch_uid="alerting.metrics.alert_path_checked")
def _show_alert_path(sender: object, state: PathState, **_: object) -> None:
    if not state.enabled:
        return
    broken, last_round_trip = alert_path_gauges()
    broken.set(int(state.broken))
    back = state.last_round_trip
    last_round_trip.set(back.timestamp() if back else 0)
