"""A stuck task is counted by the worker's exporter, once, under its registered name."""

from ..conftest import free_port, requires
from ..support.celery_processes import wait_until
from ..test_stuck_tasks import NAP, ONCE, kill_pool_processes, stuck_task_worker
from .scrape import parse, value
from .test_metrics import http_get

pytestmark = requires("REDIS_URL")


def test_a_stuck_task_is_counted_once(tmp_path):
    port = free_port()
    with stuck_task_worker(tmp_path, METRICS_WORKER_PORT=str(port)) as worker:
        stuck = worker.send(NAP, 2.5)
        healthy = worker.send(NAP, 0.2)
        worker.wait_until_finished(stuck)
        worker.wait_until_finished(healthy)
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, body
    assert value(parse(body), "celery_stuck_tasks_total", task=NAP) == 1.0


def test_a_pool_process_killed_under_a_task_is_counted_as_worker_lost(tmp_path):
    port = free_port()
    with stuck_task_worker(tmp_path, METRICS_WORKER_PORT=str(port)) as worker:
        marker = tmp_path / "once"
        worker.send(ONCE, str(marker), 60)
        wait_until(marker.exists, 30, "the task's start", worker.log)
        kill_pool_processes(worker)
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, body
    assert value(parse(body), "celery_tasks_total", task=ONCE, state="worker_lost") == 1.0
    assert value(parse(body), "celery_tasks_total", task=ONCE, state="failed") == 0.0
