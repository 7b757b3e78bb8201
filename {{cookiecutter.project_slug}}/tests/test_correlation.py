"""The request and trace ids travel from the web request into Celery tasks and their log lines."""

import json
import time
from pathlib import Path

import pytest
import structlog
from celery import chain, shared_task
from structlog.contextvars import bind_contextvars, get_contextvars

from {{ cookiecutter.project_slug }}.monitoring.context import trace_id_from_traceparent, trace_id_or_new
from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.orders.tasks import process_order

from .conftest import parse_json_lines

ACCESS_LOGGER = "{{ cookiecutter.project_slug }}.monitoring.access"
PROCESS_ORDER = "{{ cookiecutter.project_slug }}.orders.tasks.process_order"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"  # the W3C spec's example


@shared_task
def log_from_task() -> None:
    structlog.stdlib.get_logger("tests.task").info("inside the task")


def wait_for_lines(log_path: Path, wanted, count: int, timeout: float = 15) -> list[dict]:
    """Every line of the worker's log parsed as JSON, once *count* lines match *wanted*."""
    deadline = time.monotonic() + timeout
    while True:
        records = parse_json_lines(log_path.read_text())
        matching = [record for record in records if wanted(record)]
        if len(matching) >= count or time.monotonic() > deadline:
            return matching
        time.sleep(0.1)


def succeeded(record: dict) -> bool:
    return record["logger"] == "celery.app.trace" and "succeeded" in record["message"]


def test_eager_task_lines_carry_the_request_id_and_the_request_context_survives(
    log_capture,
):
    bind_contextvars(request_id="eager-req-1")
    try:
        # Eager, as with CELERY_TASK_ALWAYS_EAGER: the task runs inside the request.
        result = log_from_task.apply()
        assert get_contextvars() == {"request_id": "eager-req-1"}
    finally:
        structlog.contextvars.clear_contextvars()
    [line] = [r for r in log_capture.records() if r["message"] == "inside the task"]
    assert line["request_id"] == "eager-req-1"
    assert line["task_id"] == result.id
    assert line["task_name"] == log_from_task.name


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_request_id_reaches_the_worker_task_lines(client, log_capture, celery_worker_log):
    response = client.post(
        "/orders/",
        data=json.dumps({"amount": "7.50"}),
        content_type="application/json",
        HTTP_X_REQUEST_ID="corr-web-1",
        HTTP_TRACEPARENT=f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    )
    assert response.status_code == 201
    [access] = [r for r in log_capture.records() if r["logger"] == ACCESS_LOGGER]
    assert access["request_id"] == "corr-web-1"
    assert access["trace_id"] == TRACE_ID
    assert "task_id" not in access

    [task_line] = wait_for_lines(
        celery_worker_log, lambda r: succeeded(r) and r.get("request_id") == "corr-web-1", 1
    )
    assert task_line["task_name"] == PROCESS_ORDER
    assert task_line["trace_id"] == TRACE_ID
    assert task_line["task_id"] in task_line["message"]
    for field in ("timestamp", "level", "logger", "message", "environment", "release"):
        assert field in task_line
    # The worker logs the message's arrival before the task binds the request id.
    task_id = task_line["task_id"]
    [received] = wait_for_lines(
        celery_worker_log,
        lambda r: r["logger"] == "celery.worker.strategy" and task_id in r["message"],
        1,
    )
    assert received["message"] == f"Task {PROCESS_ORDER}[{task_id}] received"
    assert (received["task_id"], received["task_name"]) == (task_id, PROCESS_ORDER)
    assert "request_id" not in received
    assert Order.objects.get(pk=response.json()["id"]).status == Order.Status.PROCESSED


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_tasks_published_by_tasks_keep_the_request_id(celery_worker_log, worker_queue):
    first = Order.objects.create(amount="1.00")
    second = Order.objects.create(amount="2.00")
    bind_contextvars(request_id="corr-chain-1")
    try:
        # The worker publishes the second task itself, when the first one ends.
        chain(
            process_order.si(first.pk).set(queue=worker_queue),
            process_order.si(second.pk).set(queue=worker_queue),
        ).delay()
    finally:
        structlog.contextvars.clear_contextvars()
    lines = wait_for_lines(
        celery_worker_log, lambda r: succeeded(r) and r.get("request_id") == "corr-chain-1", 2
    )
    assert len(lines) == 2
    assert len({line["task_id"] for line in lines}) == 2
    assert f"[{lines[0]['task_id']}]" in lines[0]["message"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_task_without_request_gets_no_stale_request_id(celery_worker_log):
    order = Order.objects.create(amount="3.00")
    bind_contextvars(request_id="corr-before")
    try:
        process_order.delay(order.pk).get(timeout=15)
    finally:
        structlog.contextvars.clear_contextvars()
    result = process_order.delay(order.pk)
    result.get(timeout=15)
    [line] = wait_for_lines(
        celery_worker_log, lambda r: succeeded(r) and r.get("task_id") == result.id, 1
    )
    assert "request_id" not in line


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",  # uppercase hex
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE_ID}-00f067aa0ba902b7-01",  # forbidden version
        f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra",  # version 00 has four fields
        f"00-{TRACE_ID}-00f067aa0ba902b7-1",  # flags are two digits
        f"00-{TRACE_ID}x-00f067aa0ba902b7-01",  # a trace id of 33 characters
        f"00-{TRACE_ID}-00F067AA0BA902B7-01",  # uppercase parent id
    ],
)
def test_malformed_traceparent_gets_a_new_trace_id(header):
    trace_id = trace_id_or_new(header)
    assert trace_id_from_traceparent(header) is None
    assert len(trace_id) == 32 and trace_id != TRACE_ID
    int(trace_id, 16)


def test_valid_traceparent_is_continued():
    assert trace_id_or_new(f"00-{TRACE_ID}-00f067aa0ba902b7-01") == TRACE_ID
    # Blanks around the header are not part of it (the common form's fast path has none).
    assert trace_id_or_new(f" 00-{TRACE_ID}-00f067aa0ba902b7-01\t") == TRACE_ID
    assert trace_id_or_new(f"00-{TRACE_ID}-00f067aa0ba902b7-00") == TRACE_ID  # not sampled
    # A later version may append fields.
    assert trace_id_or_new(f"01-{TRACE_ID}-00f067aa0ba902b7-01-more") == TRACE_ID
