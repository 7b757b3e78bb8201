"""The example app: a JSON view that queues a Celery task."""

import json
import time

import pytest
from django.test import Client

from {{ cookiecutter.project_slug }}.orders.models import Order


def post_order(client: Client, body: object) -> tuple[int, dict]:
    response = client.post(
        "/orders/", data=json.dumps(body) if not isinstance(body, bytes) else body,
        content_type="application/json",
    )  # fmt: skip
    return response.status_code, response.json()


@pytest.mark.django_db
def test_order_is_created_and_processed_inline(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        status, body = post_order(client, {"amount": "19.90", "currency": "eur"})
    assert status == 201
    assert body["currency"] == "EUR"
    assert Order.objects.get(pk=body["id"]).status == Order.Status.PROCESSED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        {"currency": "EUR"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": "-5"},
        {"amount": "abc"},
        {"amount": "10", "currency": "EURO"},
        {"amount": "10", "currency": "<s>"},
    ],
)
def test_bad_order_payloads_get_a_clear_400(client, body):
    status, answer = post_order(client, body)
    assert status == 400
    assert "error" in answer
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_unknown_order_is_a_json_404(client):
    response = client.get("/orders/999999/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "No order 999999."}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("get", "/orders/", "POST"), ("put", "/orders/1/", "GET"), ("delete", "/orders/1/", "GET")],
)
def test_other_methods_get_a_json_405(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == allowed
    assert response.json() == {"error": f"Use {allowed}."}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_processes_the_order(client, celery_worker):
    status, body = post_order(client, {"amount": "5.00"})
    assert status == 201
    order = Order.objects.get(pk=body["id"])
    for _ in range(100):
        order.refresh_from_db()
        if order.status == Order.Status.PROCESSED:
            break
        time.sleep(0.1)
    assert order.status == Order.Status.PROCESSED
