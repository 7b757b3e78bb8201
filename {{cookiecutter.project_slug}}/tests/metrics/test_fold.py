"""Dead processes' metric files are folded into totals: real gunicorn workers recycled and
killed, a real prefork Celery worker's children, scrapes during exits, and the
prometheus-client file format the folding relies on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from {{ cookiecutter.project_slug }}.monitoring.metrics._multiprocess_files import (
    fold_process_files,
)

from ..conftest import PROJECT_DIR, celery_app, child_database_url, free_port
from ..support.redis_server import needs_redis_server, redis_server
from .scrape import parse, value
from .servers import answers, metrics_gunicorn

LIVE_2XX = {"method": "GET", "route": "/health/live/", "status_class": "2xx"}
LIVE_ROUTE = {"method": "GET", "route": "/health/live/"}
FOLDED = {"counter_folded.db", "histogram_folded.db"}


# Helpers ------------------------------------------------------------------------------
def get(url: str) -> str:
    # Generous: a scrape may wait in the backlog while a worker's replacement boots, which
    # takes seconds on a loaded machine; a scrape that fails outright still fails the test.
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
        assert response.status == 200
        return response.read().decode()


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"condition not met within {timeout} s")


def children(pid: int) -> set[int]:
    """Live child processes of `pid` (Linux)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def files_not_of(folder: Path, pids: set[int]) -> set[str]:
    """Counter and histogram files in `folder` that belong to none of `pids`."""
    owners = {p.name: p.stem.rpartition("_")[2] for p in folder.glob("*.db")}
    return {
        name
        for name, owner in owners.items()
        if name.startswith(("counter_", "histogram_"))
        and owner.isdigit()
        and int(owner) not in pids
    }


# File format --------------------------------------------------------------------------
WRITER = """
import sys
from prometheus_client import Counter, Gauge, Histogram, Summary
Counter("c", "c", ["l"]).labels("a").inc(float(sys.argv[1]))
h = Histogram("h", "h", buckets=(1, 2))
for observed in (0.5, 1.5, 9):
    h.observe(observed)
Summary("s", "s").observe(float(sys.argv[1]))
Gauge("g", "g", multiprocess_mode="livesum").set(1)
"""


def scrape_folder(folder: Path) -> bytes:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    return generate_latest(registry)


def test_folding_matches_the_prometheus_client_file_format(tmp_path):
    """Fails if prometheus-client changes its file names or what its files hold."""
    pids = []
    for amount in ("2", "3"):
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        writer = subprocess.run(
            [sys.executable, "-c", WRITER + "print(__import__('os').getpid())", amount],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        pids.append(int(writer.stdout))
    expected = {f"{kind}_{pid}.db" for pid in pids for kind in ("counter", "histogram", "summary")}
    expected |= {f"gauge_livesum_{pid}.db" for pid in pids}
    assert {p.name for p in tmp_path.glob("*.db")} == expected
    before = parse(scrape_folder(tmp_path).decode())

    for pid in pids:
        fold_process_files(tmp_path, pid)

    assert {p.name for p in tmp_path.glob("*.db")} == {
        "counter_folded.db", "histogram_folded.db", "summary_folded.db",
        *(f"gauge_livesum_{pid}.db" for pid in pids),
    }  # fmt: skip
    samples = parse(scrape_folder(tmp_path).decode())
    assert samples == before
    assert value(samples, "c_total", l="a") == 5
    assert value(samples, "h_bucket", le="1.0") == 2
    assert value(samples, "h_bucket", le="2.0") == 4
    assert value(samples, "h_bucket", le="+Inf") == 6
    assert value(samples, "h_sum") == 22
    assert value(samples, "s_count") == 2
    assert value(samples, "s_sum") == 5


# gunicorn -----------------------------------------------------------------------------
@pytest.fixture
def recycling_gunicorn(tmp_path):
    """gunicorn with 2 workers replaced every 20 requests, on loopback.

    Totals folded by an earlier run are planted: a new master must start from zero."""
    options = ("--max-requests", "20", "--max-requests-jitter", "0")
    with metrics_gunicorn(tmp_path, "counter_folded.db", *options) as server:
        yield server


def live_count(url: str) -> float:
    """/health/live/ requests counted by a scrape (a scrape is not counted itself)."""
    return value(parse(get(f"{url}/metrics")), "http_requests_total", **LIVE_2XX) or 0.0


def send(url: str, count: int) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: get(f"{url}/health/live/"), range(count)))


def settled_workers(master: subprocess.Popen, folder: Path) -> set[int]:
    """The 2 live workers, once every dead one has been folded."""
    return wait_for(lambda: (live := children(master.pid)) and len(live) == 2 and live)


def test_recycled_workers_are_folded_and_totals_stay_exact(recycling_gunicorn):
    url, folder, master = recycling_gunicorn
    send(url, 300)  # 15 recycles
    live = settled_workers(master, folder)
    assert live_count(url) == 300
    samples = parse(get(f"{url}/metrics"))
    assert value(samples, "http_request_duration_seconds_count", **LIVE_ROUTE) == 300
    assert value(samples, "http_request_duration_seconds_bucket", le="+Inf", **LIVE_ROUTE) == 300
    assert {p.name for p in folder.glob("*.db")} >= FOLDED
    assert files_not_of(folder, live) == set()
    assert len(list(folder.glob("*.db"))) <= len(FOLDED) + 3 * len(live)


def test_a_killed_worker_is_folded_too(recycling_gunicorn):
    url, folder, master = recycling_gunicorn
    send(url, 5)
    victim = max(children(master.pid))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in children(master.pid))
    live = settled_workers(master, folder)
    assert not list(folder.glob(f"*_{victim}.db"))
    assert files_not_of(folder, live) == set()
    assert live_count(url) == 5


def test_scrapes_during_exits_never_fail_or_go_backwards(recycling_gunicorn):
    url, folder, master = recycling_gunicorn
    seen: list[list[float]] = [[], []]
    errors: list[BaseException] = []
    done = threading.Event()

    def scrape_forever(values: list[float]) -> None:
        while not done.is_set():
            try:
                values.append(live_count(url))
                time.sleep(0.02)
            except Exception as exc:  # any failure fails the test
                errors.append(exc)

    scrapers = [threading.Thread(target=scrape_forever, args=(values,)) for values in seen]
    for scraper in scrapers:
        scraper.start()
    try:
        send(url, 200)  # 10 recycles
    finally:
        done.set()
        for scraper in scrapers:
            scraper.join()
    assert errors == []
    for values in seen:  # each scraper's values never drop, nor exceed the requests sent
        assert len(values) > 10
        assert values == sorted(values)
        assert values[-1] <= 200
    assert live_count(url) == 200
    settled_workers(master, folder)
    assert files_not_of(folder, children(master.pid)) == set()


# Celery -------------------------------------------------------------------------------
@needs_redis_server
@pytest.mark.django_db(transaction=True)
def test_celery_children_are_folded_when_they_end_or_are_killed(tmp_path, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    queue = f"fold-{os.getpid()}"
    port = free_port()
    scratch = tmp_path / "tmp"  # the worker's metrics folder is made in its TMPDIR
    scratch.mkdir()
    with redis_server() as broker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": child_database_url(),
            "REDIS_URL": broker.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "METRICS_WORKER_ADDRESS": "127.0.0.1",
            "METRICS_WORKER_PORT": str(port),
            "TMPDIR": str(scratch),
        }
        log = tmp_path / "worker.log"
        with open(log, "w") as output:
            worker = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "config.celery_app", "worker",
                    "--pool=prefork", "--concurrency=2", "--max-tasks-per-child=2",
                    "-Q", queue, "-I", "tests.support.slow_tasks",
                    "--without-mingle", "--without-gossip",
                ],
                cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        exporter = f"http://127.0.0.1:{port}/metrics"
        try:
            wait_for(lambda: answers(exporter), timeout=60)
            folder = next(scratch.glob("celery-metrics-*"))
            with celery_app.connection_for_write(broker.url) as connection:

                def nap(count: int) -> None:
                    for _ in range(count):
                        celery_app.send_task(
                            "tests.support.slow_tasks.nap", (0,), queue=queue,
                            connection=connection,
                        )  # fmt: skip

                def succeeded() -> float:
                    samples = parse(get(exporter))
                    task = "tests.support.slow_tasks.nap"
                    return value(samples, "celery_tasks_total", task=task, state="succeeded")

                nap(20)  # about 10 children end after 2 tasks each
                wait_for(lambda: succeeded() == 20, timeout=60)
                live = wait_for(lambda: len(c := children(worker.pid)) == 2 and c)
                assert files_not_of(folder, live | {worker.pid}) == set()
                assert "counter_folded.db" in {p.name for p in folder.glob("*.db")}

                # A child killed outright cannot fold its own files: the next scrape does.
                nap(1)
                wait_for(lambda: succeeded() == 21, timeout=30)
                victim = next(
                    pid for pid in children(worker.pid) if list(folder.glob(f"*_{pid}.db"))
                )
                os.kill(victim, signal.SIGKILL)
                wait_for(lambda: victim not in children(worker.pid))
                assert succeeded() == 21
                assert not list(folder.glob(f"*_{victim}.db"))
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
            if worker.returncode not in (0, -signal.SIGTERM):
                print(log.read_text())
