"""The shipped dashboard and alert rules in a real Prometheus.

Prometheus scrapes gunicorn (2 workers) and a real Celery worker every second while the test
sends requests and tasks. Then each scrape passes `promtool check metrics`, every query of
every dashboard panel draws, and every alert rule's expression is empty while all is well
and returns series under its fault. Expressions are evaluated through the query API, so
the test does not wait out the rules' `for:`; deploy/monitoring/prometheus-rules.test.yaml
tests those with promtool.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from {{ cookiecutter.project_slug }}.monitoring.metrics.exposition import (
    REDIS_PRIORITY_SUFFIXES,
)
from {{ cookiecutter.project_slug }}.orders.tasks import process_order

from ..conftest import (
    PROJECT_DIR,
    celery_app,
    child_database_url,
    clean_env,
    free_port,
    requires,
    running_celery_worker,
)
from .prometheus import (
    MONITORING_DIR,
    CuttableProxy,
    Prometheus,
    alert_rules,
    dashboard_expressions,
    promtool,
    require_prometheus,
    running_prometheus,
    substitute_grafana_variables,
)

# The rules' thresholds this test crosses (deploy/monitoring/prometheus-rules.yaml).
BACKLOG = 100
FAULT_TIMEOUT_S = 20.0

pytestmark = [
    requires("REDIS_URL"),
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),  # gunicorn and the worker share the data
]


def send(base_url: str, path: str, body: str | None = None) -> tuple[int, str]:
    """One GET (or POST of a JSON `body`); the status code and the body."""
    data = body.encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (http only)
        base_url + path, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310
        return answer.read().decode()


def with_address(url: str, port: int) -> str:
    """`url` pointing at 127.0.0.1:`port`, with its credentials and path kept."""
    parts = urllib.parse.urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return parts._replace(netloc=netloc).geturl()


@contextmanager
def web_server(folder: Path, env: dict[str, str]) -> Iterator[Callable[[], str]]:
    """gunicorn with 2 workers on a free loopback port, set up by gunicorn.conf.py. Yields a
    function that waits until it serves and returns its URL: other servers start meanwhile."""
    port = free_port()
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(folder / "web-metrics")}
    command = [
        sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "config.wsgi",
    ]  # fmt: skip
    log_path = folder / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"

    def serving() -> str:
        deadline = time.monotonic() + 60
        while not _answers(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not serve:\n{log_path.read_text()}")
            time.sleep(0.1)
        return base_url

    try:
        yield serving
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _answers(base_url: str) -> bool:
    try:
        return send(base_url, "/health/live/")[0] == 200
    except OSError:
        return False


@dataclass
class Stack:
    web: str
    worker: str
    queue: str
    prometheus: Prometheus
    redis_for_web: CuttableProxy
    stop_worker: Callable[[], None]


@pytest.fixture
def stack(tmp_path, worker_queue) -> Iterator[Stack]:
    """gunicorn (its Redis through a proxy) and a Celery worker, scraped by Prometheus."""
    require_prometheus()
    queue = f"{worker_queue}-prometheus"  # not the session worker's: this one gets stopped
    worker_port = free_port()
    broker_url = celery_app.conf.broker_url
    upstream = urllib.parse.urlsplit(broker_url)
    with ExitStack() as stack, ExitStack() as worker:
        proxy = CuttableProxy((upstream.hostname or "127.0.0.1", upstream.port or 6379))
        stack.callback(proxy.close)
        env = clean_env(
            DJANGO_SETTINGS_MODULE="tests.metrics.site_settings",
            DATABASE_URL=child_database_url(),
            REDIS_URL=with_address(broker_url, proxy.port),
            CELERY_TASK_ALWAYS_EAGER="false",
            CELERY_TASK_DEFAULT_QUEUE=queue,
        )
        web_serving = stack.enter_context(web_server(tmp_path, env))
        exporter = {"METRICS_WORKER_PORT": str(worker_port)}
        worker.enter_context(running_celery_worker(queue, exporter))
        web = web_serving()
        targets = {"web": web.removeprefix("http://"), "worker": f"127.0.0.1:{worker_port}"}
        rule_files = (MONITORING_DIR / "prometheus-rules.yaml",)
        prometheus = stack.enter_context(running_prometheus(tmp_path, targets, rule_files))
        try:
            yield Stack(
                web, f"http://127.0.0.1:{worker_port}", queue, prometheus, proxy, worker.close
            )
        finally:
            suffixed = [queue + suffix for suffix in REDIS_PRIORITY_SUFFIXES]
            redis.Redis.from_url(broker_url).delete(*suffixed)


def healthy_traffic(base_url: str) -> None:
    """What a healthy service answers: orders (created, read, missing, malformed), pages that
    do not exist, and the health probes. No 5xx, and every task succeeds."""
    order = json.dumps({"amount": "9.99"})
    created = [send(base_url, "/orders/", order) for _ in range(2)]
    assert [status for status, _ in created] == [201, 201]
    order_id = json.loads(created[0][1])["id"]
    paths = [f"/orders/{order_id}/"] * 10 + [
        "/orders/999999999/", "/no/such/page/", "/health/live/", "/health/ready/", "/health/",
    ]  # fmt: skip
    statuses = [send(base_url, path)[0] for path in paths]
    statuses.append(send(base_url, "/orders/", "not json")[0])
    assert statuses == [200] * 10 + [404, 404, 200, 200, 200, 400]


def answering(base_url: str, path: str, status: int, times: int = 4) -> Callable[[], None]:
    """A fault: `times` requests for `path` at once, each answered `status`."""

    def requests() -> None:
        with ThreadPoolExecutor(max_workers=times) as pool:
            answers = list(pool.map(lambda _: send(base_url, path)[0], range(times)))
        assert answers == [status] * times, path

    return requests


def returns_series_under(
    prometheus: Prometheus, expr: str, fault: Callable[[], object]
) -> list[dict]:
    """Apply `fault` again and again until `expr` returns series; fail after a while."""
    deadline = time.monotonic() + FAULT_TIMEOUT_S
    while time.monotonic() < deadline:
        fault()
        if series := prometheus.query(expr):
            return series
        time.sleep(0.2)
    pytest.fail(f"stayed empty for {FAULT_TIMEOUT_S} s under its fault: {expr}")


def test_dashboard_and_alerts_in_a_real_prometheus(stack: Stack, monkeypatch):
    prometheus, web = stack.prometheus, stack.web
    rules = {(rule["alert"], rule["labels"]["severity"]): rule["expr"] for rule in alert_rules()}
    assert len(rules) == len(alert_rules())
    started = time.time()

    # All is well: a few rounds of traffic, each scraped, and every task done.
    for _ in range(4):
        healthy_traffic(web)
        prometheus.wait_for_scrapes(1)
    done = 'sum(celery_tasks_total{state="succeeded"}) >= 8'
    returns_series_under(prometheus, done, lambda: None)
    prometheus.wait_for_scrapes(2)

    for url in (web, stack.worker):
        check = promtool("check", "metrics", stdin=fetch(f"{url}/metrics"))
        assert check.returncode == 0, (url, check.stdout + check.stderr)
    assert {s["metric"]["job"] for s in prometheus.query("up == 1")} == {"web", "worker"}
    loaded = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    assert len(loaded) == len(rules)
    assert {rule["health"] for rule in loaded} == {"ok"}, loaded

    blank = [
        expr
        for expr in dashboard_expressions()
        if not prometheus.drawn(substitute_grafana_variables(expr), started)
    ]
    assert not blank, f"panels that draw nothing while all is well: {blank}"
    firing = [key for key, expr in rules.items() if prometheus.query(expr)]
    assert not firing, f"alerts firing while all is well: {firing}"

    # Faults, each kept up until its alert's expression returns series.
    for severity in ("critical", "warning"):  # fast and slow burn
        slow = answering(web, "/late/", 200, times=2)  # as many as gunicorn serves at once
        returns_series_under(prometheus, rules["LatencySLOBurn", severity], slow)
    errors = answering(web, "/boom/", 500)
    returns_series_under(prometheus, rules["HighErrorRate", "critical"], errors)

    stack.redis_for_web.cut()  # the web loses Redis: readiness fails, its checks say why
    not_ready = answering(web, "/health/ready/", 503)
    for key in (("ReadinessFailing", "critical"), ("HealthCheckFailing", "warning")):
        returns_series_under(prometheus, rules[key], not_ready)
    stack.redis_for_web.mend()  # and gets it back: the failing checks clear
    cleared = f"absent({rules['HealthCheckFailing', 'warning']})"
    returns_series_under(prometheus, cleared, answering(web, "/health/ready/", 200, times=1))

    no_such_order = 0
    returns_series_under(
        prometheus,
        rules["CeleryTaskFailures", "warning"],
        lambda: [process_order.delay(no_such_order) for _ in range(2)],
    )

    stack.stop_worker()
    returns_series_under(prometheus, rules["NoCeleryWorker", "critical"], lambda: None)

    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)  # as the worker left it
    for _ in range(BACKLOG + 10):  # nobody consumes them now
        process_order.apply_async(args=[no_such_order], queue=stack.queue)
    returns_series_under(prometheus, rules["CeleryQueueBacklog", "warning"], lambda: None)
