"""A tiny JSON API: POST /orders/ queues processing, GET /orders/<id>/ reads the status."""

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Order
from .services import OrderNotQueued, create_order

MAX_AMOUNT = Decimal("1000000")

View = Callable[..., JsonResponse]


def allow_only(method: str) -> Callable[[View], View]:
    """Django's require_POST / require_GET, answering 405 in JSON as the rest of the API."""

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
            if request.method != method:
                response = JsonResponse({"error": f"Use {method}."}, status=405)
                response["Allow"] = method
                return response
            return view(request, *args, **kwargs)

        return checked

    return decorator


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
@allow_only("POST")
def create_order_view(request: HttpRequest) -> JsonResponse:
    try:
        payload = json.loads(request.body)
        amount = Decimal(str(payload["amount"]))
        currency = str(payload.get("currency", "EUR")).upper()
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return JsonResponse({"error": 'Send JSON like {"amount": "9.99"}.'}, status=400)
    valid_amount = amount.is_finite() and Decimal(0) < amount < MAX_AMOUNT
    if not valid_amount or len(currency) != 3 or not currency.isalpha():
        return JsonResponse({"error": "amount or currency out of range."}, status=400)
    try:
        order = create_order(amount=amount.quantize(Decimal("0.01")), currency=currency)
    except OrderNotQueued:  # the broker did not take the task in time (REDIS_SOCKET_TIMEOUT)
        response = JsonResponse({"error": "Could not queue the order; try again."}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse(_serialize(order), status=201)


@allow_only("GET")
def retrieve_order_view(request: HttpRequest, pk: int) -> JsonResponse:
    # Not get_object_or_404: its Http404 becomes Django's HTML page.
    try:
        order = Order.objects.get(pk=pk)
    except Order.DoesNotExist:
        return JsonResponse({"error": f"No order {pk}."}, status=404)
    return JsonResponse(_serialize(order))
