"""The delivery outbox (models.py): record an alert, claim and settle its deliveries, sweep.

The database, not the broker, is the record of what must still be sent:
- `record_alert` stores the alert and one Delivery per enabled channel in one
  transaction, then queues them once it commits. A publish that fails (broker
  down) loses nothing: the rows are left to the sweeper's next pass, and for
  PUBLISH_PAUSE_SECONDS this process does not try the broker again, so a webhook
  answers at once while the broker hangs instead of after each publish's deadline.
- A worker `claim`s a delivery before sending (a row lock): a message handed out
  twice, or queued again by the sweeper, finds it sending or sent and does nothing.
  At most ALERT_CHANNEL_CONCURRENCY deliveries per channel are in flight at once,
  so a channel that hangs holds that many worker processes, never all of them; the
  rest wait as rows, and each delivery that ends queues the next of its channel.
- `sweep` (a beat task every ALERT_SWEEP_INTERVAL s) queues again what is overdue
  by ALERT_SWEEP_GRACE s: rows no message will come for (publish failed, broker
  restarted empty, a channel's lane broken) and claims that expired (worker killed
  between claiming and settling; that send may be repeated once: at least once).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from .alerts import Alert
from .channels import CHANNELS, Channel, channels_for
from .models import AlertRecord, Delivery

logger = structlog.get_logger(__name__)

Status = Delivery.Status
SWEEP_BATCH = 200
PUBLISH_PAUSE_SECONDS = 5.0
# What a publish raises when the broker is down or hangs (after its retry policy).
PUBLISH_ERRORS = (OperationalError, OSError)
_publish_failed_at = -PUBLISH_PAUSE_SECONDS  # time.monotonic() of the last failed publish


def queue_name(channel: str) -> str:
    """One queue per channel: a backlog for one never waits behind another's."""
    return f"{settings.ALERT_QUEUE_PREFIX}{channel}"


def record_alert(
    alert: Alert,
    *,
    source: str,
    request_id: str = "",
    occurred_at: datetime | None = None,
    channels: Iterable[Channel] | None = None,
) -> list[Delivery] | None:
    """Store the alert and its deliveries; None if this alert id (or request id) is known.

    The deliveries are queued when the transaction commits (at once outside one).
    """
    targets = list(channels_for(alert) if channels is None else channels)
    try:
        with transaction.atomic():
            record = AlertRecord.objects.create(
                **_record_fields(alert, source), request_id=request_id, occurred_at=occurred_at
            )
            deliveries = Delivery.objects.bulk_create(
                [Delivery(alert=record, channel=channel.name) for channel in targets]
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: queue_deliveries(deliveries))
    return deliveries


def adopt_legacy_delivery(alert: Alert, channel: str) -> None:
    """One channel of an alert queued by the version before the outbox, recorded now."""
    with transaction.atomic():
        record, _ = AlertRecord.objects.get_or_create(
            alert_id=alert.id, defaults=_record_fields(alert, "upgrade")
        )
        delivery, created = Delivery.objects.get_or_create(alert=record, channel=channel)
    if created:
        transaction.on_commit(lambda: queue_deliveries([delivery]))


def _record_fields(alert: Alert, source: str) -> dict[str, str]:
    """The row's copy of the alert: its fields, with `id` stored as `alert_id`."""
    fields = alert.to_dict()
    return {"alert_id": fields.pop("id"), "source": source, **fields}


def queue_deliveries(deliveries: list[Delivery]) -> None:
    """Publish each delivery; after a failure, leave the rest to the sweeper's next pass."""
    global _publish_failed_at
    for index, delivery in enumerate(deliveries):
        error = "broker failed just before" if _publish_paused() else ""
        if not error:
            try:
                _publish(delivery, 0)
                continue
            except PUBLISH_ERRORS as exc:
                # Each failed publish costs up to its deadline: don't pay it once per channel.
                _publish_failed_at = time.monotonic()
                error = exc.__class__.__name__
        left = [item.pk for item in deliveries[index:]]
        overdue_now = timezone.now() - timedelta(seconds=settings.ALERT_SWEEP_GRACE)
        Delivery.objects.filter(pk__in=left, status=Status.PENDING).update(due_at=overdue_now)
        logger.warning(
            "alert delivery not queued, the sweeper will queue it",
            alert_id=delivery.alert.alert_id,
            deliveries=len(left),
            error=error,
        )
        return


def _publish_paused() -> bool:
    return time.monotonic() - _publish_failed_at < PUBLISH_PAUSE_SECONDS


def _publish(delivery: Delivery, countdown: float) -> None:
    from .tasks import send_delivery  # tasks.py imports this module

    send_delivery.apply_async(
        (delivery.pk,),
        queue=queue_name(delivery.channel),
        # None, not 0: a countdown of 0 still gives the message an ETA. celery-types
        # declares `float` only; Celery's own default is None.
        countdown=countdown or None,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Claim:
    delivery: Delivery
    alert: Alert
    channel: Channel


def claim(delivery_id: int, *, inline: bool = False) -> Claim | str:
    """Take a delivery for sending, or say why not: "missing", "done", "claimed",
    "early", "busy" (the channel has its share in flight) or "disabled".

    `inline`: run without a broker (local development), where a retry cannot wait for
    its back-off: it is taken at once.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = Delivery.objects.select_for_update(of=("self",)).select_related("alert")
        delivery = rows.filter(pk=delivery_id).first()
        if delivery is None:
            return "missing"
        if delivery.status in (Status.SENT, Status.FAILED):
            return "done"
        claimed_until = delivery.claimed_until
        if delivery.status == Status.SENDING and claimed_until and claimed_until > now:
            return "claimed"
        early = delivery.due_at > now + timedelta(seconds=0.5)
        if delivery.status == Status.PENDING and early and not inline:
            return "early"  # a retry's back-off (or a Retry-After) is not over
        channel = CHANNELS.get(delivery.channel)
        if channel is None or not channel.enabled():
            _settle(delivery, Status.FAILED, error="the channel is switched off")
            return "disabled"
        _one_claim_at_a_time(delivery.channel)
        in_flight = Delivery.objects.filter(
            channel=delivery.channel, status=Status.SENDING, claimed_until__gt=now
        ).exclude(pk=delivery.pk)
        if in_flight.count() >= settings.ALERT_CHANNEL_CONCURRENCY:
            if delivery.status == Status.SENDING:  # an expired claim: due again
                _settle(delivery, Status.PENDING, due_at=now)
            return "busy"
        delivery.status = Status.SENDING
        delivery.attempts += 1
        delivery.claimed_until = now + timedelta(seconds=claim_seconds(channel))
        delivery.save(update_fields=["status", "attempts", "claimed_until", "updated_at"])
    return Claim(delivery, alert_of(delivery.alert), channel)


def _one_claim_at_a_time(channel: str) -> None:
    """Hold the channel's lock until the transaction ends, before counting its claims.

    The row lock covers one delivery only: two workers claiming two rows of a channel at
    once would each count the other's claim as not made yet, and both send (seen as two
    Slack sends in flight where ALERT_CHANNEL_CONCURRENCY is 1). A PostgreSQL advisory
    lock makes the second wait and then count the first; other databases run one write
    transaction at a time already.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(channel.encode())])


def claim_seconds(channel: Channel) -> float:
    """Longer than one send can take: its timeout bounds each of connect, send and read."""
    return 3 * channel.timeout() + 5


def alert_of(record: AlertRecord) -> Alert:
    """The alert a row holds (_record_fields backwards)."""
    names = Alert.__dataclass_fields__.keys() - {"id"}
    fields = {name: getattr(record, name) for name in names}
    return Alert.from_dict({"id": record.alert_id, **fields})


def mark_sent(delivery: Delivery) -> None:
    _settle(delivery, Status.SENT, sent_at=timezone.now())
    queue_next(delivery.channel)


def mark_failed(delivery: Delivery, error: str) -> None:
    _settle(delivery, Status.FAILED, error=error)
    queue_next(delivery.channel)


def mark_retry(delivery: Delivery, error: str, delay: float) -> None:
    """Due again in `delay` s; a message is queued for then (the sweeper if that fails)."""
    _settle(delivery, Status.PENDING, error=error, due_at=timezone.now() + timedelta(seconds=delay))
    try:
        _publish(delivery, delay)
    except PUBLISH_ERRORS as exc:
        logger.warning("alert retry not queued, the sweeper will", error=exc.__class__.__name__)
    queue_next(delivery.channel)


def release(delivery: Delivery) -> None:
    """An unexpected error while sending: due again now, for the sweeper."""
    _settle(delivery, Status.PENDING, due_at=timezone.now())


def _settle(delivery: Delivery, status: str, *, error: str = "", **fields: object) -> None:
    values = {"status": status, "claimed_until": None, "updated_at": timezone.now(), **fields}
    if error:
        values["last_error"] = error[:300]
    Delivery.objects.filter(pk=delivery.pk).update(**values)


def queue_next(channel: str) -> None:
    """Queue the oldest delivery of `channel` that waits for its turn ("busy" above)."""
    waiting = (
        Delivery.objects.filter(channel=channel, status=Status.PENDING, due_at__lte=timezone.now())
        .select_related("alert")
        .order_by("due_at")
        .first()
    )
    if waiting is not None:
        try:
            _publish(waiting, 0)
        except PUBLISH_ERRORS as exc:
            logger.warning("next alert delivery not queued", error=exc.__class__.__name__)


def overdue(now: datetime) -> Q:
    """Deliveries nothing is coming for: due past the grace period, or claims that expired."""
    late = now - timedelta(seconds=settings.ALERT_SWEEP_GRACE)
    return Q(status=Status.PENDING, due_at__lt=late) | Q(
        status=Status.SENDING, claimed_until__lt=now
    )


def sweep() -> int:
    """Queue the overdue deliveries again (their due time restarts the grace) and forget
    alerts older than ALERT_RETENTION_DAYS whose deliveries are all settled."""
    now = timezone.now()
    with transaction.atomic():
        # skip_locked: a row a worker is claiming right now is not overdue any more.
        locked = Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        rows = list(locked.filter(overdue(now)).select_related("alert")[:SWEEP_BATCH])
        for delivery in rows:
            if delivery.status == Status.SENDING:
                logger.warning(
                    "alert delivery claim expired (worker lost mid-send?), queued again",
                    channel=delivery.channel,
                    alert_id=delivery.alert.alert_id,
                )
        Delivery.objects.filter(pk__in=[delivery.pk for delivery in rows]).update(
            status=Status.PENDING, claimed_until=None, due_at=now, updated_at=now
        )
    if rows:
        logger.info("overdue alert deliveries queued again", deliveries=len(rows))
        queue_deliveries(rows)
    expired = now - timedelta(days=settings.ALERT_RETENTION_DAYS)
    unsettled = Delivery.objects.filter(status__in=(Status.PENDING, Status.SENDING))
    old = AlertRecord.objects.filter(received_at__lt=expired).exclude(
        pk__in=unsettled.values("alert_id")
    )
    AlertRecord.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:SWEEP_BATCH])).delete()
    return len(rows)
