from celery import shared_task

from .models import Order
from .services import mark_processed


@shared_task(acks_late=True)
def process_order(order_id: int) -> str:
    """Process one order; returns its new status."""
    order = Order.objects.get(pk=order_id)
    return mark_processed(order).status
