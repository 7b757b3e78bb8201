"""Business logic of the example app, as plain functions (views and tasks call these).

Every function of the app is named verb first, after what it does to an order:
create_order here, process_order (tasks.py), create_order_view (views.py).
"""

import logging
from decimal import Decimal

from celery import Task
from django.db import transaction
from django.utils import timezone

from .models import Order

logger = logging.getLogger(__name__)


class OrderNotQueued(Exception):
    """The broker did not take the order's task in time; the order was not kept."""


def create_order(*, amount: Decimal, currency: str) -> Order:
    """Store a pending order and queue its processing once the row is committed."""
    from .tasks import process_order

    order = Order.objects.create(amount=amount, currency=currency)
    transaction.on_commit(lambda: _queue_processing(order, process_order))
    return order


def _queue_processing(order: Order, process_order: Task[[int], str]) -> None:
    """Publish, or forget the order: the caller answers 503 and the client sends it again."""
    try:
        process_order.delay(order.pk)
    # kombu's OperationalError from the broker, or the result backend's error when the
    # publish could not subscribe to its result: either way the task was not queued.
    except Exception as exc:
        order.delete()
        raise OrderNotQueued from exc


def mark_order_processed(order: Order) -> Order:
    order.status = Order.Status.PROCESSED
    order.processed_at = timezone.now()
    order.save(update_fields=["status", "processed_at"])
    return order


def charge_order(order: Order) -> None:
    """Placeholder for the call to your payment provider."""
    logger.info("payment charged", extra={"order_id": order.pk})


def send_order_confirmation(order: Order) -> None:
    """Placeholder for the customer's confirmation e-mail."""
    logger.info("confirmation sent", extra={"order_id": order.pk})
