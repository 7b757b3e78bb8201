"""Business logic of the example app, as plain functions (views and tasks call these)."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from .models import Order


def create_order(*, amount: Decimal, currency: str) -> Order:
    """Store a pending order and queue its processing once the row is committed."""
    from .tasks import process_order

    order = Order.objects.create(amount=amount, currency=currency)
    transaction.on_commit(lambda: process_order.delay(order.pk))
    return order


def mark_processed(order: Order) -> Order:
    order.status = Order.Status.PROCESSED
    order.processed_at = timezone.now()
    order.save(update_fields=["status", "processed_at"])
    return order
