"""Each task's lines say how long it waited in its queue; its final line, how long it ran."""

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from {{ cookiecutter.project_slug }}.monitoring.task_timing import queue_wait_seconds
from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.orders.tasks import process_order

from .test_correlation import wait_for_lines

NOW = 1_764_000_000.0


def request(published_at=None, eta=None, is_eager=False) -> SimpleNamespace:
    return SimpleNamespace(published_at=published_at, eta=eta, is_eager=is_eager)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (request(NOW - 2.5), 2.5),
        # A delayed task waits from its ETA, not from when it was sent.
        (request(NOW - 60, eta=iso(NOW - 0.5)), 0.5),
        (request(NOW - 60, eta=datetime.fromtimestamp(NOW - 0.25, UTC)), 0.25),
        (request(NOW - 3, eta="not a date"), 3.0),
        # The sender's clock ahead of ours: no negative wait.
        (request(NOW + 4), 0.0),
        # Unknown: sent by a client without our receivers, or run inline.
        (request(None), None),
        (request("yesterday"), None),
        (request(NOW - 1, is_eager=True), None),
    ],
)
def test_queue_wait_is_from_when_the_task_could_start(sent, expected):
    assert queue_wait_seconds(sent, NOW) == pytest.approx(expected)


def final_lines(log_path, task_id: str) -> list[dict]:
    return wait_for_lines(
        log_path,
        lambda r: r["logger"] == "celery.app.trace" and r.get("task_id") == task_id,
        1,
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_task_reports_its_wait_and_runtime(celery_worker_log):
    order = Order.objects.create(amount="4.00")
    sent = time.monotonic()
    delayed = process_order.apply_async((order.pk,), countdown=1)
    delayed.get(timeout=20)
    waited = time.monotonic() - sent
    failed = process_order.delay(order.pk + 10_000)  # no such order: the task raises
    with pytest.raises(Order.DoesNotExist):
        failed.get(timeout=20)

    [success] = final_lines(celery_worker_log, delayed.id)
    assert "succeeded" in success["message"]
    # Measured from the ETA, so not the second of countdown; well under what we waited.
    assert 0 <= success["queue_wait_ms"] < waited * 1000 - 500
    assert 0 <= success["runtime_ms"] <= waited * 1000
    assert success["runtime_ms"] == pytest.approx(success["data"]["runtime"] * 1000, abs=5)
    [failure] = final_lines(celery_worker_log, failed.id)
    assert "raised" in failure["message"]
    assert isinstance(failure["queue_wait_ms"], int) and isinstance(failure["runtime_ms"], int)
    # The worker's own lines between tasks (a message's arrival) carry neither.
    received = wait_for_lines(
        celery_worker_log, lambda r: r["logger"] == "celery.worker.strategy", 2
    )
    assert not [line for line in received if {"queue_wait_ms", "runtime_ms"} & line.keys()]


def test_an_inline_task_has_a_runtime_and_no_wait(log_capture, inline_tasks, db):
    order = Order.objects.create(amount="5.00")
    result = process_order.delay(order.pk)
    [line] = [
        r for r in log_capture.records()
        if r["logger"] == "celery.app.trace" and r.get("task_id") == result.id
    ]  # fmt: skip
    assert "queue_wait_ms" not in line
    assert isinstance(line["runtime_ms"], int)
