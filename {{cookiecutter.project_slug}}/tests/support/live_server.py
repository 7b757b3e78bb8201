"""Real servers on loopback for tests: the project under gunicorn, and hung dependencies."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..conftest import PROJECT_DIR

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str
    seconds: float


def get(
    base_url: str, path: str, headers: dict[str, str] | None = None, timeout: float = 30
) -> Answer:
    """One plain HTTP GET that never follows redirects."""
    return request(base_url, "GET", path, headers=headers, timeout=timeout)


def post(base_url: str, path: str, body: str, timeout: float = 30) -> Answer:
    """One JSON POST."""
    headers = {"Content-Type": "application/json"}
    return request(base_url, "POST", path, body, headers, timeout)


def request(
    base_url: str,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Answer:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    started = time.monotonic()
    try:
        connection.request(method, path, body, headers=headers or {})
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    return Answer(response.status, response.headers, text, time.monotonic() - started)


@contextmanager
def hanging_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection in accepted:
            connection.close()
        listener.close()


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a server we started; kill it if it doesn't stop within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[str]:
    """The project served by gunicorn on 127.0.0.1 with `env`; yields its base URL."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", "127.0.0.1:0",
             "--workers", "1", "--graceful-timeout", "5"],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield _wait_until_serving(process, log)
        finally:
            stop_process(process)


def _wait_until_serving(process: subprocess.Popen, log) -> str:
    deadline = time.monotonic() + 30
    base_url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        log.seek(0)
        if base_url is None and (match := LISTENING.search(log.read())):
            base_url = f"http://127.0.0.1:{match.group(1)}"
        if base_url is not None:
            try:
                if get(base_url, "/health/live/").status == 200:
                    return base_url
            except OSError:
                pass
        time.sleep(0.1)
    process.kill()
    log.seek(0)
    raise RuntimeError(f"gunicorn did not serve within 30 s:\n{log.read()}")
