from celery import shared_task

from ..monitoring.tracing import span, tag
from .models import Order
from .services import charge_order, mark_order_processed, send_order_confirmation


@shared_task(acks_late=True)
def process_order(order_id: int) -> str:
    """Fetch, charge and confirm one order; returns its new status.

    acks_late: a worker that dies mid-task hands the order to another, so the task
    must be safe to run twice. A processed order is left alone; a real payment call
    would also pass the order's id as the provider's idempotency key, which covers a
    worker killed between charging and saving.

    Each step is a span of the task's trace (monitoring/tracing.py), showing where
    its time goes.
    """
    tag("order_id", str(order_id))
    with span("db.query", "Fetch order"):
        order = Order.objects.get(pk=order_id)
    if order.status == Order.Status.PROCESSED:
        return order.status
    with span("http.client", "Charge payment", amount=str(order.amount), currency=order.currency):
        charge_order(order)
    with span("email", "Send confirmation"):
        send_order_confirmation(order)
    return mark_order_processed(order).status
