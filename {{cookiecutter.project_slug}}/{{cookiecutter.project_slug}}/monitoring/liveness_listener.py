"""Liveness answered by gunicorn's master, on a port of its own (GUNICORN_LIVENESS_BIND).

A sync worker serves one request at a time, so slow clients (slowloris) or a queue of
requests waiting on a hung dependency can hold every worker: /health/live/ on the main
port then waits behind them, and an orchestrator restarts a pod that is only busy.
This listener is a thread of the master, which never serves requests: it answers
GET /health/live/ 200 while at least one worker has sent its heartbeat within
gunicorn's `timeout` (the same limit the master kills workers by), 503 when none has.
Readiness stays on the main port, where it should fail under such load.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._gunicorn_internals import worker_heartbeat_ages

PATH = "/health/live/"


def liveness(arbiter: Any) -> tuple[int, dict[str, object]]:
    ages = worker_heartbeat_ages(arbiter)
    alive = [age for age in ages if age <= arbiter.timeout]
    body: dict[str, object] = {
        "status": "alive" if alive else "no live worker",
        "workers": len(alive),
    }
    return (200 if alive else 503), body


def start_liveness_listener(arbiter: Any, bind: str) -> ThreadingHTTPServer:
    """Serve liveness on `bind` ("host:port") from a daemon thread of the master."""
    host, _, port = bind.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        timeout = 2  # a slow client of this port gives up its thread quickly

        def do_GET(self) -> None:
            if self.path == PATH:
                status, body = liveness(arbiter)
            else:
                status, body = 404, {"error": "not found"}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds: no line each (and no logging lock across fork)

    server = ThreadingHTTPServer((host.strip("[]") or "0.0.0.0", int(port)), Handler)  # noqa: S104
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="liveness", daemon=True).start()
    arbiter.log.info("Liveness listener at http://%s%s", bind, PATH)
    return server
