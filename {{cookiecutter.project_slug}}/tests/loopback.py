"""Real servers on 127.0.0.1 for tests: scripted HTTP stubs, a silent port, the app (gunicorn)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: object = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class StubServer:
    """An HTTP server on an ephemeral loopback port that records every request.

    Answers come from `script` (one Reply per request, in order), then from
    `responder(received)` (default: 200 "ok").
    """

    def __init__(self, responder: Callable[[Received], Reply] | None = None):
        self.received: list[Received] = []
        self.script: list[Reply] = []
        self.responder = responder or (lambda received: Reply(200, b"ok"))
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self, *script: Reply) -> None:
        with self._lock:
            self.received.clear()
            self.script[:] = script

    def matching(self, needle: str) -> list[Received]:
        with self._lock:
            return [item for item in self.received if needle.encode() in item.body]

    def wait_for(self, needle: str, count: int, timeout: float = 15) -> list[Received]:
        """The requests whose body contains `needle`, once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(needle)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.matching(needle)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            if self.script:
                return self.script.pop(0)
        return self.responder(received)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(
                    self.command, self.path, dict(self.headers), self.rfile.read(length),
                    time.monotonic(),
                )  # fmt: skip
                reply = stub._answer(received)
                time.sleep(reply.delay)
                body = reply.encoded()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout tests)
                    pass

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@contextmanager
def stub_server(responder: Callable[[Received], Reply] | None = None) -> Iterator[StubServer]:
    server = StubServer(responder)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def silent_server() -> Iterator[str]:
    """A port that accepts TCP connections and never answers: a hanging dependency."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def closed_port_url() -> str:
    """A URL nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def gunicorn_app(env: dict[str, str]) -> Iterator[str]:
    """The project served by gunicorn on an ephemeral loopback port; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.set_inheritable(True)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    log_path = PROJECT_DIR / f".pytest-gunicorn-{listener.getsockname()[1]}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                "--bind", f"fd://{listener.fileno()}", "--workers", "1", "--graceful-timeout", "2",
            ],
            cwd=PROJECT_DIR, env=env, pass_fds=(listener.fileno(),),
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_live(url, process, log_path)
        yield url
    finally:
        stop_process(process)
        listener.close()
        log_path.unlink(missing_ok=True)


def _wait_until_live(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health/live/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within 30 s:\n{log_path.read_text()}")


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a server we started; kill it if it doesn't stop within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
