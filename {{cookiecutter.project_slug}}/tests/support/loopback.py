"""Scripted HTTP stub servers on 127.0.0.1, standing in for the services the project calls,
and URLs of hanging and closed ports (built on live_server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..conftest import free_port
from .live_server import hanging_server


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
    """The URL of a port that accepts connections and never answers: a hanging dependency."""
    with hanging_server() as port:
        yield f"http://127.0.0.1:{port}"


def closed_port_url() -> str:
    """A URL nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"
