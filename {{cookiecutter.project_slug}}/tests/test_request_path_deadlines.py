"""Redis calls made while a request waits give up in time (REDIS_SOCKET_TIMEOUT).

A child process with the project's settings talks to a redis-server of the test's own.
Frozen (SIGSTOP), that server accepts connections and never answers, which is what a
hung Redis looks like: each cache call and each task publish must fail within 1 s (what
a webhook sender waits at most), not wait until gunicorn kills the worker. Restarted, it
breaks the pooled connections, and the next publish must still go through.

Served by gunicorn, the example API's POST /orders/ (which publishes a task) answers 503
with Retry-After within 1 s while the broker is frozen, keeping no order, and liveness
keeps answering meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from {{ cookiecutter.project_slug }}.orders.models import Order

from .conftest import PROJECT_DIR, child_database_url, clean_env, requires
from .support.live_server import get, gunicorn, post
from .support.redis_server import needs_redis_server, redis_server

DEADLINE = 1.0
# Warm the pools, then time each call once the parent has made its fault.
CHILD = """
import json, os, sys, threading, time
import django
django.setup()
from celery import current_app
from django.core.cache import cache

def timed(call):
    # In a thread, so that a call that never returns is reported instead of hanging the test.
    outcome = {"error": "still waiting after 5 s"}

    def run():
        try:
            call()
            outcome["error"] = None
        except Exception as exc:
            outcome["error"] = type(exc).__name__

    start = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    return {"seconds": time.monotonic() - start, **outcome}

calls = {
    "cache": lambda: cache.get("deadline-test"),
    "publish": lambda: current_app.send_task("deadline_test.nobody_consumes_this"),
}
for call in calls.values():
    call()
print("WARM", flush=True)
sys.stdin.readline()  # the parent made its fault
print("RESULTS", json.dumps({name: timed(call) for name, call in calls.items()}), flush=True)
os._exit(0)  # a hung call's thread must not keep the process alive
"""


def run_child(redis_url: str, make_fault) -> dict[str, dict]:
    env = clean_env(REDIS_URL=redis_url)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=PROJECT_DIR, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    # Log lines go to stdout too (local settings): read up to each of the child's own.
    with child:  # closes its pipes at the end
        try:
            assert next_line(child, "WARM") is not None, child.stderr.read()
            make_fault()
            child.stdin.write("go\n")
            child.stdin.flush()
            results = next_line(child, "RESULTS ")
            child.wait(timeout=30)
        finally:
            child.kill()
            child.wait(timeout=10)
        assert results is not None, child.stderr.read()
    return json.loads(results)


def next_line(child: subprocess.Popen, prefix: str) -> str | None:
    """The rest of the child's next stdout line that starts with prefix (None at its end)."""
    for line in child.stdout:
        if line.startswith(prefix):
            return line[len(prefix) :]
    return None


@needs_redis_server
def test_a_hung_redis_fails_cache_calls_and_publishes_within_a_second():
    with redis_server() as server:
        try:
            results = run_child(server.url, lambda: os.kill(server.process.pid, signal.SIGSTOP))
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
    for name, result in results.items():
        assert result["error"], (name, result)
        assert result["seconds"] < DEADLINE, (name, result)


@needs_redis_server
def test_a_publish_after_a_redis_restart_goes_through():
    with redis_server() as server:

        def restart() -> None:
            server.stop()
            server.start()  # the same port, nothing kept

        results = run_child(server.url, restart)
    assert results["publish"]["error"] is None, results


@contextmanager
def frozen(server):
    """SIGSTOP the redis-server: TCP still accepts, no command is ever answered."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


@needs_redis_server
@requires("DATABASE_URL")
@pytest.mark.django_db(transaction=True)  # gunicorn commits orders: emptied afterwards
def test_an_order_view_answers_503_in_time_while_the_broker_is_frozen():
    with redis_server() as server:
        env = clean_env(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DJANGO_SECRET_KEY="a-production-like-secret-key-that-is-long-enough-0123456789-abc",
            DATABASE_URL=child_database_url(),
            REDIS_URL=server.url,
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SECURE_SSL_REDIRECT="false",
        )
        with gunicorn(env) as base_url:
            order = json.dumps({"amount": "9.99"})
            assert post(base_url, "/orders/", order).status == 201  # warm: broker connected
            live: list[float] = []
            stop = threading.Event()

            def probe_liveness() -> None:
                while not stop.is_set():
                    try:
                        live.append(get(base_url, "/health/live/", timeout=2).seconds)
                    except OSError:
                        live.append(float("inf"))
                    time.sleep(0.2)

            with frozen(server):
                prober = threading.Thread(target=probe_liveness)
                prober.start()
                try:
                    answers = [post(base_url, "/orders/", order, timeout=5) for _ in range(3)]
                finally:
                    stop.set()
                    prober.join()
    for answer in answers:
        assert answer.seconds < DEADLINE, answer
        assert answer.status == 503, answer
        assert "try again" in json.loads(answer.text)["error"]
        assert answer.headers["Retry-After"]
    assert Order.objects.count() == 1  # the warm-up's: no order was kept without its task
    assert live and max(live) < 2, live
