"""What the alerting app announces, for code that follows it (to count, to audit).

webhook_received
    Every delivery to the receiver (webhooks.py; a request that is no delivery,
    a GET, sends nothing). `outcome`: "accepted", "duplicate", "stale", "ignored",
    "probe", "unavailable", "bad_signature", "bad_request", "too_large" or "not_configured".
alert_delivery
    Every attempt to deliver an alert to a channel (tasks.py) that ends: `channel`
    ("slack", "pagerduty", "email"), `outcome` "sent", "retried" (this attempt
    failed, another is queued) or "failed" (given up). The sender is the channel's
    class.
alert_path_checked
    Every periodic check of the alert path (alert_path.py, in a worker): `state`, an
    alert_path.PathState (broken or not, the last round trip).

Receivers run synchronously, in the view or the task: keep them quick.
"""

from django.dispatch import Signal

webhook_received = Signal()
alert_delivery = Signal()
alert_path_checked = Signal()
