"""Prometheus metrics: /metrics after real requests and tasks, gunicorn workers, access rules,
and the shipped Grafana dashboard and alert rules checked against a real scrape."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import yaml
from celery import shared_task
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from {{ cookiecutter.project_slug }}.monitoring.metrics.exposition import (
    REDIS_PRIORITY_SUFFIXES,
    oldest_message_age,
)
from {{ cookiecutter.project_slug }}.monitoring.metrics.instruments import (
    observe_health_check,
)
from {{ cookiecutter.project_slug }}.monitoring.metrics.middleware import (
    MetricsMiddleware,
)
from {{ cookiecutter.project_slug }}.monitoring.metrics.worker import task_label
from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.orders.tasks import process_order

from ..conftest import (
    PRODUCTION_ENV,
    PROJECT_DIR,
    WORKER_METRICS_PORT,
    celery_app,
    clean_env,
    free_port,
    requires,
    settings_values,
)
from ..support.live_server import hanging_server
from .prometheus import MONITORING_DIR, alert_rules, dashboard_expressions, promtool
from .scrape import Samples, label_values, parse, scrape, value
from .servers import metrics_gunicorn

TASK = process_order.name
OUTSIDE = "203.0.113.7"  # TEST-NET-3: not loopback
LIVE_2XX = {"method": "GET", "route": "/health/live/", "status_class": "2xx"}


# Helpers ------------------------------------------------------------------------------
def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (http only)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def worker_scrape() -> Samples:
    status, body = http_get(f"http://127.0.0.1:{WORKER_METRICS_PORT}/metrics")
    assert status == 200, body
    return parse(body)


def worker_scrape_until(condition, timeout: float = 20.0) -> Samples:
    """Scrape the worker until `condition` holds: task signals fire after results are stored."""
    deadline = time.monotonic() + timeout
    while True:
        samples = worker_scrape()
        if condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def wait_for(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"condition not met within {timeout} s")


# Requests -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_requests_are_counted_by_method_route_and_status_class(client):
    before = scrape(client)
    assert client.get("/health/live/").status_code == 200
    assert client.get("/orders/987654/").status_code == 404
    assert client.post("/orders/", "not json", content_type="application/json").status_code == 400
    assert client.get("/no/such/page/").status_code == 404
    assert client.generic("BREW", "/health/live/").status_code == 405
    after = scrape(client)

    expected = [
        ("GET", "/health/live/", "2xx"),
        ("GET", "/orders/<int:pk>/", "4xx"),
        ("POST", "/orders/", "4xx"),
        ("GET", "unmatched", "4xx"),
        ("other", "/health/live/", "4xx"),
    ]
    for method, route, status_class in expected:
        labels = {"method": method, "route": route, "status_class": status_class}
        moved = value(after, "http_requests_total", **labels)
        moved -= value(before, "http_requests_total", **labels)
        assert moved == 1, labels
        count = "http_request_duration_seconds_count"
        timed = value(after, count, method=method, route=route)
        assert timed - value(before, count, method=method, route=route) >= 1
    # Scrapes are not counted as traffic, and nothing is in flight between requests.
    assert "/metrics" not in label_values(after, "http_requests_total", "route")
    assert value(after, "http_requests_in_flight") == 0


@pytest.mark.django_db
def test_a_thousand_urls_under_one_route_make_one_label_value(client):
    before = scrape(client)
    for pk in range(10**6, 10**6 + 1000):
        assert client.get(f"/orders/{pk}/").status_code == 404
    for n in range(200):
        client.get(f"/random-{n}/path/")
    after = scrape(client)

    routes = label_values(after, "http_requests_total", "route")
    assert not [route for route in routes if re.search(r"\d{7}|random-", route)]
    labels = {"method": "GET", "route": "/orders/<int:pk>/", "status_class": "4xx"}
    moved = value(after, "http_requests_total", **labels)
    assert moved - value(before, "http_requests_total", **labels) == 1000
    unmatched = {"method": "GET", "route": "unmatched", "status_class": "4xx"}
    moved = value(after, "http_requests_total", **unmatched)
    assert moved - value(before, "http_requests_total", **unmatched) == 200


# Access -------------------------------------------------------------------------------
def test_metrics_are_denied_outside_the_allowed_networks(client):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 403
    assert b"http_requests_total" not in response.content
    # Through a proxy REMOTE_ADDR is the proxy's own: never trusted as a network.
    proxied = client.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert proxied.status_code == 403


def test_allowed_networks_come_from_settings(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR=f"::ffff:{OUTSIDE}").status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed


def test_bearer_token_opens_metrics_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    denied = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert denied.status_code == 401
    assert denied["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret")
    assert wrong.status_code == 401
    # A wrong token is refused even from an allowed network.
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    right = client.get(
        "/metrics",
        REMOTE_ADDR=OUTSIDE,
        HTTP_X_FORWARDED_FOR="198.51.100.1",
        HTTP_AUTHORIZATION="Bearer s3cret-token",
    )
    assert right.status_code == 200
    assert right["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE http_requests_total counter" in right.content


def test_metrics_are_never_cached_and_only_read(client):
    response = client.get("/metrics")
    assert "no-store" in response["Cache-Control"]
    posted = client.post("/metrics")
    assert posted.status_code == 405
    assert posted["Allow"] == "GET, HEAD"


def test_metrics_answer_any_host_without_widening_allowed_hosts(client):
    # Prometheus scrapes by address (a pod's IP, say) and sends it as Host.
    assert client.get("/metrics", HTTP_HOST="10.12.0.7:8000").status_code == 200
    assert client.get("/orders/1/", HTTP_HOST="10.12.0.7:8000").status_code == 400


def test_a_malformed_allowed_network_is_named_at_start_up(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "office-lan"]
    with pytest.raises(ImproperlyConfigured, match=r"'office-lan'.*CIDR"):
        MetricsMiddleware(lambda request: HttpResponse())


def test_the_worker_exporter_listens_on_loopback_unless_deployed():
    local = clean_env(DJANGO_SETTINGS_MODULE="config.settings.local")
    assert settings_values(local, "METRICS_WORKER_ADDRESS") == ["127.0.0.1"]
    production = settings_values(clean_env(**PRODUCTION_ENV), "METRICS_WORKER_ADDRESS")
    assert production == ["0.0.0.0"]  # noqa: S104


# Values other modules record ----------------------------------------------------------
def test_health_checks_record_status_and_duration(client):
    before = scrape(client)
    observe_health_check("database", "ok", 0.004)
    observe_health_check("database", "error", 1.2)
    after = scrape(client)
    assert value(after, "health_check_status", check="database", status="error") == 1
    assert value(after, "health_check_status", check="database", status="ok") == 0
    assert value(after, "health_check_status", check="database", status="warning") == 0
    count = "health_check_duration_seconds_count"
    assert value(after, count, check="database") - value(before, count, check="database") == 2
    with pytest.raises(ValueError, match="'fine' is not one of: ok, warning, error"):
        observe_health_check("database", "fine", 0.1)


@pytest.mark.django_db
def test_a_real_health_request_records_every_check(client):
    before = scrape(client)
    client.get("/health/")
    after = scrape(client)
    count = "health_check_duration_seconds_count"
    for check in ("database", "cache", "broker", "disk", "migrations", "celery_workers", "beat"):
        assert value(after, count, check=check) - value(before, count, check=check) == 1, check
    assert value(after, "health_check_status", check="database", status="ok") == 1


# Celery -------------------------------------------------------------------------------
@requires("REDIS_URL")
def test_queue_length_is_read_from_redis_at_scrape_time(client, monkeypatch):
    queue = f"metrics-backlog-{os.getpid()}"
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    broker = redis.Redis.from_url(celery_app.conf.broker_url)
    try:
        for _ in range(3):
            process_order.apply_async(args=[0])
        process_order.apply_async(args=[0], priority=6)  # kept in a list of its own
        time.sleep(0.5)
        samples = scrape(client)
        assert value(samples, "celery_queue_length", queue=queue) == 4
        # The next message to go waited since it was sent: at least the half second.
        age = value(samples, "celery_queue_oldest_message_age_seconds", queue=queue)
        assert 0.5 <= age < 60
    finally:
        broker.delete(*[queue + suffix for suffix in REDIS_PRIORITY_SUFFIXES])
    samples = scrape(client)
    assert value(samples, "celery_queue_length", queue=queue) == 0
    assert value(samples, "celery_queue_oldest_message_age_seconds", queue=queue) == 0


@pytest.mark.parametrize(
    ("raw", "age"),
    [
        (json.dumps({"headers": {"published_at": 100.0}, "body": "..."}).encode(), 20.0),
        (json.dumps({"headers": {"published_at": 130.0}}).encode(), 0.0),  # clock skew
        (json.dumps({"headers": {}}).encode(), 0.0),  # sent without our receivers
        (b"not json", 0.0),
        (None, 0.0),  # an empty queue
    ],
)
def test_oldest_message_age_reads_the_publish_header(raw, age):
    assert oldest_message_age(raw, now=120.0) == age


def test_unknown_task_names_fold_into_one_label_value():
    assert task_label(TASK) == TASK
    assert task_label("a.task.this.app.never.registered") == "other"


def test_an_unreachable_broker_leaves_queue_length_out(client, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    samples = scrape(client)  # answers 200 all the same
    assert not label_values(samples, "celery_queue_length", "queue")


def test_a_hanging_broker_does_not_hold_the_scrape(client, monkeypatch):
    with hanging_server() as port:
        monkeypatch.setitem(celery_app.conf, "broker_url", f"redis://127.0.0.1:{port}/0")
        start = time.monotonic()
        samples = scrape(client)
        elapsed = time.monotonic() - start
    assert elapsed < 2.0
    assert not label_values(samples, "celery_queue_length", "queue")


@shared_task(bind=True, max_retries=1, default_retry_delay=0)
def retried_once(self) -> str:
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError("first run fails"))
    return "ok"


def test_task_states_count_retries(client):
    before = scrape(client)
    retried_once.apply(throw=False)  # eager: the task signals fire in this process
    after = scrape(client)
    for state, runs in (("started", 2), ("retried", 1), ("succeeded", 1), ("failed", 0)):
        labels = {"task": retried_once.name, "state": state}
        moved = value(after, "celery_tasks_total", **labels)
        assert moved - value(before, "celery_tasks_total", **labels) == runs, state
    runs = "celery_task_runtime_seconds_count"
    task = retried_once.name
    assert value(after, runs, task=task) - value(before, runs, task=task) == 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_exports_task_counts_and_runtimes(client, celery_worker, worker_queue):
    before = worker_scrape()
    response = client.post("/orders/", {"amount": "12.50"}, content_type="application/json")
    assert response.status_code == 201
    order_id = response.json()["id"]
    missing = process_order.delay(0)  # no such order: the task fails
    wait_for(lambda: Order.objects.get(pk=order_id).status == Order.Status.PROCESSED)
    missing.get(timeout=20, propagate=False)

    def moved(samples: Samples, state: str) -> float:
        now = value(samples, "celery_tasks_total", task=TASK, state=state)
        return now - value(before, "celery_tasks_total", task=TASK, state=state)

    after = worker_scrape_until(lambda s: moved(s, "succeeded") and moved(s, "failed"))
    assert moved(after, "started") == 2
    assert moved(after, "succeeded") == 1
    assert moved(after, "failed") == 1
    runs = "celery_task_runtime_seconds_count"
    assert value(after, runs, task=TASK) - value(before, runs, task=TASK) == 2
    waits = "celery_task_queue_wait_seconds_count"
    labels = {"task": TASK, "queue": worker_queue}
    assert value(after, waits, **labels) - value(before, waits, **labels) == 2
    assert value(after, "celery_tasks_in_flight") == 0
    # Every task of the app has its stuck counter from the start, at 0.
    assert value(after, "celery_stuck_tasks_total", task=TASK) == 0
    assert value(after, "celery_worker_up") == 1
    # The web reads the worker's (now empty) default queue from Redis.
    assert value(scrape(client), "celery_queue_length", queue=worker_queue) == 0


@pytest.mark.worker
def test_worker_exporter_applies_the_same_access_rules(celery_worker):
    url = f"http://127.0.0.1:{WORKER_METRICS_PORT}"
    assert http_get(f"{url}/metrics", {"X-Forwarded-For": OUTSIDE})[0] == 403
    assert http_get(f"{url}/other")[0] == 404


# gunicorn -----------------------------------------------------------------------------
@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with 2 workers on loopback, metrics in tmp_path (a stale file planted)."""
    with metrics_gunicorn(tmp_path, "counter_999999.db") as (url, folder, process):
        # Each worker creates its in-flight gauge file once Django is loaded: wait for both.
        # /metrics itself is not counted, so polling it kept the request counts at zero.
        wait_for(lambda: len(_live(folder)) == 2, timeout=60)
        yield url, folder, process


def _live(folder: Path) -> set[int]:
    """PIDs of the workers alive, by their in-flight gauge files."""
    return {int(path.stem.rpartition("_")[2]) for path in folder.glob("gauge_livesum_*.db")}


def _per_worker_counts(folder: Path, tmp: Path) -> dict[int, float]:
    """Request count recorded by each worker, read from its own file."""
    tmp.mkdir()
    counts = {}
    for path in folder.glob("counter_*.db"):
        single = tmp / path.stem
        single.mkdir()
        shutil.copy(path, single / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(single))
        total = registry.get_sample_value("http_requests_total", LIVE_2XX)
        counts[int(path.stem.removeprefix("counter_"))] = total or 0.0
    return counts


def test_gunicorn_workers_add_up_in_one_scrape(gunicorn, tmp_path):
    url, folder, master = gunicorn
    assert not (folder / "counter_999999.db").exists()  # stale files are cleared at start

    def burst_while_paused(paused: int) -> None:
        """100 requests while worker `paused` is stopped: the other one serves them all."""
        os.kill(paused, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(lambda _: http_get(f"{url}/health/live/")[0], range(100)))
        finally:
            os.kill(paused, signal.SIGCONT)
        assert statuses == [200] * 100

    first, second = sorted(_live(folder))
    burst_while_paused(first)
    burst_while_paused(second)
    assert _per_worker_counts(folder, tmp_path / "counts") == {first: 100, second: 100}
    assert value(parse(http_get(f"{url}/metrics")[1]), "http_requests_total", **LIVE_2XX) == 200

    # A worker that dies keeps its counts; its in-flight gauge goes (child_exit hook).
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: first not in _live(folder))
    after = parse(http_get(f"{url}/metrics")[1])
    assert value(after, "http_requests_total", **LIVE_2XX) == 200
    assert value(after, "http_requests_in_flight") == 0
    assert master.poll() is None


# Dashboard and alert rules ------------------------------------------------------------
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (strings, label matchers, ranges, functions out)."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    words = re.findall(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr)
    return {word for word in words if word.lower() not in PROMQL_KEYWORDS}


def test_promql_name_extraction():
    expr = (
        "histogram_quantile(0.95, sum by (le, route) "
        '(rate(http_request_duration_seconds_bucket{route!="unmatched"}[5m])))'
        " / on() group_left sum(up) > bool 0.5 or absent(celery_worker_up)"
    )
    names = {"http_request_duration_seconds_bucket", "up", "celery_worker_up"}
    assert promql_metric_names(expr) == names


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_dashboard_and_alerts_use_only_metrics_a_real_scrape_has(client, celery_worker):
    # Record one of everything, then scrape the web and the worker.
    client.get("/health/live/")
    observe_health_check("database", "ok", 0.01)
    process_order.delay(0).get(timeout=20, propagate=False)
    worker = worker_scrape_until(lambda s: value(s, "celery_task_runtime_seconds_count", task=TASK))
    scraped = {name for name, _ in {**scrape(client), **worker}}
    scraped.add("up")  # Prometheus' own per-target series

    expressions = dashboard_expressions() + [rule["expr"] for rule in alert_rules()]
    for expr in expressions:
        unknown = promql_metric_names(expr) - scraped
        assert not unknown, f"{expr!r} uses {unknown}, which no scrape has"


def test_alert_rules_are_complete_and_link_to_runbooks():
    rules = alert_rules()
    required = {"HighErrorRate", "LatencySLOBurn", "ReadinessFailing", "CeleryQueueBacklog"}
    assert required | {"NoCeleryWorker"} <= {rule["alert"] for rule in rules}
    docs = (PROJECT_DIR / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", docs, re.MULTILINE)
    }
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        link = rule["annotations"]["runbook_url"]
        assert link.startswith("README.md#runbook-")
        assert link.partition("#")[2] in anchors, link


def test_promtool_accepts_the_alert_rules():
    check = promtool("check", "rules", str(MONITORING_DIR / "prometheus-rules.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_alert_rule_has_promtool_unit_tests_that_pass():
    unit_tests = MONITORING_DIR / "prometheus-rules.test.yaml"
    cases = [
        case
        for test in yaml.safe_load(unit_tests.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    fired = {
        (case["alertname"], alert["exp_labels"]["severity"])
        for case in cases
        for alert in case["exp_alerts"]
    }
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    rules = {(rule["alert"], rule["labels"]["severity"]) for rule in alert_rules()}
    assert fired == rules  # each rule is seen firing...
    assert quiet == {name for name, _ in rules}  # ...and each alert quiet
    run = promtool("test", "rules", str(unit_tests))
    assert run.returncode == 0, run.stdout + run.stderr
{%- if cookiecutter.use_kubernetes == "y" %}


def test_kubernetes_pods_are_annotated_for_scraping(settings):
    manifests = PROJECT_DIR / "deploy" / "k8s"
    for name, port in (("web", "8000"), ("worker", str(settings.METRICS_WORKER_PORT))):
        (deployment,) = [
            doc
            for doc in yaml.safe_load_all((manifests / f"{name}.yaml").read_text())
            if doc and doc["kind"] == "Deployment"
        ]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == port
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert int(port) in {p["containerPort"] for p in container["ports"]}
{%- endif %}
