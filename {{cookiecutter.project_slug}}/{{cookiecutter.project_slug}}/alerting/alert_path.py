"""The alert path proves itself: a probe event goes to Sentry and must come back as a webhook.

Every ALERT_PATH_CHECK_INTERVAL s, `check` sends an info-level message event tagged
`alert_path_check=<probe id>`. The owned issue alert rule "alert path check"
(deploy/sentry/alerts.yaml, applied with `manage.py sentry_alerts apply`) sends it back
through the webhook receiver, which calls `probe_returned` instead of alerting anyone.

A probe not back within ALERT_PATH_CHECK_WINDOW s means that some link is broken
(the DSN, Sentry's rule, the integration, the webhook secret, this receiver): an
"alert path broken" alert goes out once per outage through the channels that do not
depend on Sentry (Slack and e-mail, straight from here), and again as "works again"
when a probe comes back. /health/ (check `alert_path`) shows the state meanwhile, and
so does whatever follows the alert_path_checked signal (signals.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sentry_sdk
import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .alerts import Alert, Severity
from .channels import CHANNELS
from .models import AlertPathProbe
from .outbox import record_alert
from .payloads import event_tag, issue_title
from .signals import alert_path_checked

logger = structlog.get_logger(__name__)

PROBE_TAG = "alert_path_check"
PROBE_MESSAGE = "Alert path check (a test event: no action needed)"
# Channels that reach people without Sentry: they carry the news that Sentry's path is down.
INDEPENDENT_CHANNELS = ("slack", "email")
PROBES_KEPT = 100


@dataclass(frozen=True)
class PathState:
    """What the probes say: `broken` once a probe is overdue with none back since."""

    enabled: bool
    broken: bool
    last_round_trip: datetime | None
    last_sent: datetime | None


def enabled() -> bool:
    """Probing needs Sentry (a DSN) and a receiver that can verify what comes back."""
    return bool(
        settings.ALERT_PATH_CHECK_INTERVAL
        and settings.SENTRY_DSN
        and settings.SENTRY_WEBHOOK_SECRET
    )


def check(now: datetime | None = None) -> PathState:
    """Beat's periodic step: report overdue probes, then send one if the last is old enough."""
    now = now or timezone.now()
    if not enabled():
        return state(now)
    _report_overdue(now)
    last = AlertPathProbe.objects.order_by("-sent_at").first()
    if last is None or now - last.sent_at >= timedelta(seconds=settings.ALERT_PATH_CHECK_INTERVAL):
        send_probe(now)
    _forget_old_probes()
    current = state(now)
    alert_path_checked.send(sender=check, state=current)
    return current


def send_probe(now: datetime) -> AlertPathProbe | None:
    """Capture the tagged probe event; None when the SDK did not take it (no client)."""
    probe_id = uuid.uuid4().hex
    with sentry_sdk.new_scope() as scope:
        scope.set_tag(PROBE_TAG, probe_id)
        # One issue for every probe, whatever else the scope holds.
        scope.fingerprint = [PROBE_TAG]
        event_id = scope.capture_message(PROBE_MESSAGE, level="info")
    if not event_id:
        logger.warning("alert path probe not sent: the Sentry SDK dropped it")
        return None
    logger.info("alert path probe sent", probe_id=probe_id, event_id=event_id)
    return AlertPathProbe.objects.create(probe_id=probe_id, event_id=event_id, sent_at=now)


def probe_returned(probe_id: str, now: datetime | None = None) -> bool:
    """The receiver got a probe back; False when it is not one of ours (or came back already).

    A return that ends an announced outage says so on the channels that announced it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        probe = (
            AlertPathProbe.objects.select_for_update()
            .filter(probe_id=probe_id, returned_at=None)
            .first()
        )
        if probe is None:
            return False
        overdue = _overdue_since_last_return(now, _last_returned())
        was_announced = overdue.exclude(reported_at=None).exists()
        probe.returned_at = now
        probe.save(update_fields=["returned_at"])
        round_trip = (now - probe.sent_at).total_seconds()
        logger.info("alert path probe came back", probe_id=probe_id, seconds=round(round_trip, 3))
        if was_announced:
            _announce(
                Severity.RESOLVED,
                f"Alert path works again: a Sentry test event came back in {round_trip:.0f} s",
                probe,
            )
    return True


def returning_probe(resource: str, payload: dict[str, Any]) -> str | None:
    """What a webhook says of the probes: the probe id an event alert brings back, "" for
    Sentry's news of the probes' own issue (created, unresolved...), None for the rest."""
    if resource == "event_alert" and (probe_id := event_tag(payload, PROBE_TAG)):
        return probe_id
    if resource == "issue" and issue_title(payload) == PROBE_MESSAGE:
        return ""
    return None


def state(now: datetime | None = None) -> PathState:
    now = now or timezone.now()
    last_back = _last_returned()
    last_sent = AlertPathProbe.objects.order_by("-sent_at").first()
    return PathState(
        enabled=enabled(),
        broken=_overdue_since_last_return(now, last_back).exists(),
        last_round_trip=last_back.returned_at if last_back else None,
        last_sent=last_sent.sent_at if last_sent else None,
    )


def _last_returned() -> AlertPathProbe | None:
    return AlertPathProbe.objects.exclude(returned_at=None).order_by("-sent_at").first()


def _overdue_since_last_return(
    now: datetime, last_back: AlertPathProbe | None
) -> QuerySet[AlertPathProbe]:
    """Probes sent after the last one that came back, and waited for past the window."""
    window = timedelta(seconds=settings.ALERT_PATH_CHECK_WINDOW)
    probes = AlertPathProbe.objects.filter(returned_at=None, sent_at__lt=now - window)
    return probes.filter(sent_at__gt=last_back.sent_at) if last_back else probes


def _report_overdue(now: datetime) -> None:
    """Announce the outage once: on the first overdue probe since the last return."""
    with transaction.atomic():
        waiting = _overdue_since_last_return(now, _last_returned())
        overdue = list(waiting.select_for_update().order_by("sent_at"))
        if not overdue or any(probe.reported_at for probe in overdue):
            return
        first = overdue[0]
        AlertPathProbe.objects.filter(pk__in=[probe.pk for probe in overdue]).update(
            reported_at=now
        )
        waited = (now - first.sent_at).total_seconds()
        logger.error("alert path broken", probe_id=first.probe_id, waited=round(waited))
        _announce(
            Severity.WARNING,
            f"Alert path broken: a Sentry test event sent {waited / 60:.0f} min ago has not"
            " come back through the webhook (check SENTRY_DSN, the 'alert path check' rule,"
            " the integration and SENTRY_WEBHOOK_SECRET)",
            first,
        )


def _announce(severity: Severity, title: str, probe: AlertPathProbe) -> None:
    channels = [CHANNELS[name] for name in INDEPENDENT_CHANNELS if CHANNELS[name].enabled()]
    if not channels:
        logger.error("alert path news has no channel to go to", title=title)
        return
    alert = Alert(
        id=f"alert-path:{probe.probe_id}:{severity}",
        title=title,
        severity=severity,
        environment=settings.ENVIRONMENT,
        fingerprint="alert-path",
    )
    record_alert(alert, source="alert_path", channels=channels)


def _forget_old_probes() -> None:
    keep = AlertPathProbe.objects.order_by("-sent_at").values_list("pk", flat=True)[:PROBES_KEPT]
    AlertPathProbe.objects.exclude(pk__in=list(keep)).delete()
