"""On a graceful stop, answer what waits in the listen backlog with a 503 instead of a reset.

When gunicorn stops (SIGTERM), its workers finish the request in hand and exit; the
connections the kernel had already accepted for them, still waiting in the listen
backlog, are reset when the last process holding the socket exits, and their clients
see an error they cannot tell from a crash. Each exiting worker takes those instead
and answers "503, try again" (Retry-After: 1), which load balancers and clients retry.
A worker recycled after max_requests, or killed, takes none: the server goes on.
The platform's drain (readiness fails, then a pause, then SIGTERM: docs/deploy.md)
keeps the backlog empty to begin with; this covers whatever still came.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any

BODY = b'{"error": "Shutting down: try again shortly."}\n'
ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n"
    b"\r\n" % len(BODY)
) + BODY
BUDGET_SECONDS = 2.0  # the whole drain, well inside graceful_timeout
MAX_CONNECTIONS = 1024


def note_shutdown_signal(worker: Any) -> None:
    """In the worker, after gunicorn set its handlers: remember that SIGTERM came."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        worker.refuse_backlog_on_exit = True
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)


def refuse_backlog(worker: Any) -> int:
    """Answer 503 to each connection waiting on the worker's sockets; how many it took."""
    if os.getpid() != worker.pid or not getattr(worker, "refuse_backlog_on_exit", False):
        return 0  # the master's call for a dead worker, or a recycle: not a stop
    deadline, taken = time.monotonic() + BUDGET_SECONDS, 0
    for listener in worker.sockets:
        listener.setblocking(False)
        while taken < MAX_CONNECTIONS and time.monotonic() < deadline:
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, OSError):
                break
            taken += 1
            _answer(connection, deadline)
    return taken


def _answer(connection: socket.socket, deadline: float) -> None:
    with connection:
        try:
            # Read the request first: closing with unread bytes would send a reset anyway.
            connection.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
            received = b""
            while b"\r\n\r\n" not in received and len(received) < 64 * 1024:
                chunk = connection.recv(8192)
                if not chunk:
                    break
                received += chunk
            connection.sendall(ANSWER)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client went away: nothing to answer
