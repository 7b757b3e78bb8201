"""Liveness from gunicorn's master (GUNICORN_LIVENESS_BIND), on a real gunicorn.

One sync worker is held by slow clients (slowloris: request headers that never end),
or by a queue of /health/ requests waiting on a PostgreSQL that hangs: /health/live/
on the main port then waits, the master's listener still answers. A worker that
stops heartbeating (SIGSTOP) turns it to 503 until the master has replaced that
worker, after gunicorn's `timeout`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from contextlib import ExitStack

from .conftest import clean_env, free_port
from .support.live_server import get, gunicorn
from .support.loopback import silent_server

SLOW_CLIENTS = 20


def served(port: int, env_extra: dict[str, str] | None = None):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        GUNICORN_LIVENESS_BIND=f"127.0.0.1:{port}",
        **(env_extra or {}),
    )
    return gunicorn(env)


def liveness(port: int) -> tuple[int, dict]:
    answer = get(f"http://127.0.0.1:{port}", "/health/live/", timeout=2)
    return answer.status, json.loads(answer.text)


def test_the_master_answers_liveness_while_slow_clients_hold_the_worker():
    port = free_port()
    with served(port) as base_url, ExitStack() as slow:
        host, main_port = base_url.removeprefix("http://").split(":")
        for _ in range(SLOW_CLIENTS):
            sock = slow.enter_context(socket.create_connection((host, int(main_port))))
            sock.sendall(b"GET /health/live/ HTTP/1.1\r\nHost: x\r\n")  # never finished
        time.sleep(0.5)
        started = time.monotonic()
        try:
            main = get(base_url, "/health/live/", timeout=2).status
        except OSError:  # timed out behind the slow clients
            main = None
        assert main is None, "the slow clients did not hold the worker: the test proves nothing"
        assert time.monotonic() - started >= 1.9
        for _ in range(5):
            status, body = liveness(port)
            assert (status, body) == (200, {"status": "alive", "workers": 1})
        assert get(f"http://127.0.0.1:{port}", "/other/", timeout=2).status == 404


def test_liveness_holds_while_health_requests_queue_behind_a_hung_database():
    port = free_port()
    with silent_server() as hung:
        database = hung.replace("http", "postgres", 1).replace("//", "//postgres@", 1) + "/db"
        with served(port, {"DATABASE_URL": database}) as base_url:
            queued = [
                threading.Thread(target=get, args=(base_url, "/health/"), kwargs={"timeout": 30})
                for _ in range(4)
            ]
            for thread in queued:
                thread.start()
            answered = []
            started = time.monotonic()
            while any(thread.is_alive() for thread in queued) and len(answered) < 20:
                status, _ = liveness(port)
                answered.append(status)
                time.sleep(0.2)
            busy = time.monotonic() - started
            for thread in queued:
                thread.join()
    assert busy > 2, "the health requests did not queue: the test proves nothing"
    assert answered and set(answered) == {200}, answered


def test_a_worker_that_stops_heartbeating_fails_liveness_until_it_is_replaced(tmp_path):
    port, pidfile = free_port(), tmp_path / "gunicorn.pid"
    with served(port, {"GUNICORN_CMD_ARGS": f"--timeout 2 --pid {pidfile}"}):
        assert liveness(port)[0] == 200
        [worker] = worker_pids(int(pidfile.read_text()))
        os.kill(worker, signal.SIGSTOP)  # alive to the kernel, silent to the master
        seen, deadline = [], time.monotonic() + 20
        while time.monotonic() < deadline and (503 not in seen or seen[-1] != 200):
            seen.append(liveness(port)[0])
            time.sleep(0.2)
        assert 503 in seen and seen[-1] == 200, seen  # failed, then a new worker took over
        assert worker_pids(int(pidfile.read_text())) != [worker]


def worker_pids(master: int) -> list[int]:
    with open(f"/proc/{master}/task/{master}/children") as children:
        return [int(pid) for pid in children.read().split()]
