"""The alert outbox: every accepted alert and its delivery to each channel, in the database.

A row is written before the receiver answers, so an alert that was accepted
survives a broker that restarts empty, a worker killed mid-send and a publish
that failed: the sweeper (outbox.sweep) queues again whatever is overdue. The
unique alert id (the digest of a webhook body) is also the replay guard.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class AlertRecord(models.Model):
    alert_id = models.CharField(max_length=128, unique=True)
    # SHA-256 of Sentry's Request-ID header, when there was one: a repeated delivery.
    request_id = models.CharField(max_length=64, blank=True, default="")
    source = models.CharField(max_length=32)
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=16)
    url = models.URLField(max_length=2000, blank=True)
    project = models.CharField(max_length=100, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    fingerprint = models.CharField(max_length=255, blank=True)
    # When the event itself happened, as its payload says (None when it does not).
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "alert"
        constraints = [
            models.UniqueConstraint(
                fields=["request_id"],
                condition=~Q(request_id=""),
                name="alerting_alert_unique_request_id",
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its first try, or for a retry at due_at
        SENDING = "sending"  # claimed by a worker until claimed_until
        SENT = "sent"
        FAILED = "failed"  # given up: permanent error or ALERT_MAX_TRIES reached

    alert = models.ForeignKey(AlertRecord, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel"], name="alerting_one_delivery_per_channel"
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="alerting_delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel}: {self.status}"


class AlertPathProbe(models.Model):
    """One test event sent to Sentry (alert_path.py), and whether it came back as a webhook."""

    probe_id = models.CharField(max_length=32, unique=True)
    event_id = models.CharField(max_length=32)
    sent_at = models.DateTimeField(db_index=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    # When its absence was announced (once per outage).
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"probe {self.probe_id}: {'back' if self.returned_at else 'waiting'}"
