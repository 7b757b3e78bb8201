"""A tiny JSON API: POST /orders/ queues processing, GET /orders/<id>/ reads the status."""

import json
from decimal import Decimal, InvalidOperation

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .models import Order
from .services import create_order

MAX_AMOUNT = Decimal("1000000")


def _serialize(order: Order) -> dict[str, object]:
    return {
        "id": order.pk,
        "amount": str(order.amount),
        "currency": order.currency,
        "status": order.status,
    }


# Example only: an unauthenticated JSON endpoint with no cookie session, hence no
# CSRF token. Put real authentication in front of anything like it in your app.
@csrf_exempt
@require_POST
def order_create(request: HttpRequest) -> JsonResponse:
    try:
        payload = json.loads(request.body)
        amount = Decimal(str(payload["amount"]))
        currency = str(payload.get("currency", "EUR")).upper()
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return JsonResponse({"error": 'Send JSON like {"amount": "9.99"}.'}, status=400)
    valid_amount = amount.is_finite() and Decimal(0) < amount < MAX_AMOUNT
    if not valid_amount or len(currency) != 3 or not currency.isalpha():
        return JsonResponse({"error": "amount or currency out of range."}, status=400)
    order = create_order(amount=amount.quantize(Decimal("0.01")), currency=currency)
    return JsonResponse(_serialize(order), status=201)


@require_GET
def order_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_serialize(get_object_or_404(Order, pk=pk)))
