"""On SIGTERM, connections waiting in gunicorn's listen backlog get a 503, not a reset.

One sync worker is busy with a /health/ request that waits on a hung PostgreSQL (about
1 s, its deadline) while two more requests wait in the backlog. SIGTERM to the master:
the busy request is answered, the waiting ones get 503 with Retry-After from the exiting
worker (monitoring/backlog_refusal.py). A worker recycled after max_requests refuses
nothing: its replacement serves what waits.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

from .conftest import clean_env
from .support.live_server import get, gunicorn
from .support.loopback import silent_server

REQUEST = b"GET /health/live/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def waiting_request(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    # Generous: the recycled worker's replacement boots before it answers, seconds on a
    # loaded machine; what is under test is the answer, not how soon it comes.
    sock = socket.create_connection((host, int(port)), timeout=45)
    sock.sendall(REQUEST)
    return sock


def answer_of(sock: socket.socket) -> bytes:
    """What the server sent before closing; b"" if it closed or reset without an answer."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return received


def busy_server(hung_db: str, tmp_path: Path, *args: str):
    database = hung_db.replace("http", "postgres", 1).replace("//", "//postgres@", 1) + "/db"
    pidfile = tmp_path / "gunicorn.pid"
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database,
        GUNICORN_CMD_ARGS=" ".join(["--pid", str(pidfile), *args]),
    )
    return gunicorn(env), pidfile


def test_sigterm_answers_the_backlog_503_instead_of_a_reset(tmp_path):
    with silent_server() as hung:
        served, pidfile = busy_server(hung, tmp_path)
        with served as base_url:
            busy: list = []
            holder = threading.Thread(target=lambda: busy.append(get(base_url, "/health/")))
            holder.start()
            time.sleep(0.3)  # the worker is in the hung check now
            waiting = [waiting_request(base_url) for _ in range(2)]
            time.sleep(0.1)
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
            answers = [answer_of(sock) for sock in waiting]
            holder.join(15)
    assert busy and busy[0].status == 503  # the request in hand was answered (database down)
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), answer
        assert b"Retry-After: 1\r\n" in answer and b"Shutting down" in answer


def test_a_recycled_worker_leaves_the_backlog_to_its_replacement(tmp_path):
    with silent_server() as hung:
        served, _ = busy_server(hung, tmp_path, "--max-requests", "1", "--max-requests-jitter", "0")
        with served as base_url:
            holder = threading.Thread(target=get, args=(base_url, "/health/"))
            holder.start()
            time.sleep(0.3)
            waiting = waiting_request(base_url)
            answer = answer_of(waiting)
            holder.join(15)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
