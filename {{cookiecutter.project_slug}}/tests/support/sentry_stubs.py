"""Test doubles for Sentry: an envelope receiver on loopback and a few test-only views.

EnvelopeSink is what a Sentry ingest endpoint is to the SDK: it accepts
`POST /api/<project>/envelope/`, undoes gzip (or brotli) compression, parses the
envelope (a header line, then item header + payload pairs) and keeps every item.

`wsgi_app()` serves the project with the extra views below in front of its own
URLs: `gunicorn 'tests.support.sentry_stubs:wsgi_app()'`.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sentry_sdk
import structlog
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from {{ cookiecutter.project_slug }}.monitoring.sentry import capture

try:
    import brotli
except ImportError:  # the SDK only uses brotli when the module is installed
    brotli = None


@dataclass
class Item:
    type: str
    headers: dict[str, Any]
    payload: Any  # decoded JSON, or bytes for binary items


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[Item]]:
    """Split an envelope into its header and items (sizes given by `length` or newlines)."""
    header_line, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_headers = json.loads(item_line)
        if "length" in item_headers:
            raw, rest = rest[: item_headers["length"]], rest[item_headers["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            raw, _, rest = rest.partition(b"\n")
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = raw
        items.append(Item(item_headers.get("type", ""), item_headers, payload))
    return json.loads(header_line), items


LOG_CONTENT_TYPE = "application/vnd.sentry.items.log+json"
LOG_LEVELS = {"trace", "debug", "info", "warn", "error", "fatal"}
ATTRIBUTE_TYPES = {"string": str, "boolean": bool, "integer": int, "double": float, "array": list}


def log_problems(item: Item) -> list[str]:
    """What a `log` item gets wrong against Sentry's documented shape (develop.sentry.dev,
    SDK telemetry "Logs"): the item header's content_type and item_count, then each log's
    timestamp, level, body, trace id and typed attributes."""
    problems = []
    if item.headers.get("content_type") != LOG_CONTENT_TYPE:
        problems.append(f"log item content_type {item.headers.get('content_type')!r}")
    logs = item.payload.get("items") if isinstance(item.payload, dict) else None
    if not isinstance(logs, list):
        return [*problems, "log item payload has no `items` list"]
    if item.headers.get("item_count") != len(logs):
        problems.append(f"log item_count {item.headers.get('item_count')} for {len(logs)} logs")
    for log in logs:
        if not isinstance(log.get("timestamp"), int | float):
            problems.append(f"log timestamp {log.get('timestamp')!r}")
        if log.get("level") not in LOG_LEVELS or not isinstance(log.get("body"), str):
            problems.append(f"log level/body {log.get('level')!r} {log.get('body')!r}")
        if not re.fullmatch(r"[0-9a-f]{32}", str(log.get("trace_id"))):
            problems.append(f"log trace_id {log.get('trace_id')!r}")
        for name, attribute in log.get("attributes", {}).items():
            expected = ATTRIBUTE_TYPES.get(attribute.get("type"))
            value = attribute.get("value")
            if expected is None or not isinstance(value, expected):
                problems.append(f"log attribute {name}: {attribute!r}")
    return problems


class EnvelopeSink:
    """A Sentry ingest stand-in on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []  # decompressed envelopes, to search for leaks
        self.items: list[Item] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self._server.server_address[1]}/1"

    def __enter__(self) -> EnvelopeSink:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.bodies.clear()
            self.items.clear()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [item.payload for item in self.items if item.type == kind]

    def events(self) -> list[dict[str, Any]]:
        return self.of_type("event")

    def transactions(self) -> list[dict[str, Any]]:
        return self.of_type("transaction")

    def wait_for(
        self, kind: str, match: Callable[[dict[str, Any]], bool] = lambda _: True, timeout=15.0
    ) -> list[dict[str, Any]]:
        """Items of `kind` that `match`, as soon as there is one (or [] after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [payload for payload in self.of_type(kind) if match(payload)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def log_items(self) -> list[dict[str, Any]]:
        """Every Sentry log that arrived (each `log` envelope item holds a batch)."""
        return [log for batch in self.of_type("log") for log in batch["items"]]

    def raw(self) -> bytes:
        with self._lock:
            return b"\n".join(self.bodies)

    def _receive(self, path: str, encoding: str, body: bytes) -> int:
        if not path.startswith("/api/1/envelope/"):
            self.errors.append(f"unexpected path {path}")
            return 404
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br" and brotli is not None:
            body = brotli.decompress(body)
        elif encoding:
            self.errors.append(f"unexpected Content-Encoding {encoding}")
            return 415
        _, items = parse_envelope(body)
        problems = [
            problem for item in items if item.type == "log" for problem in log_problems(item)
        ]
        if problems:
            self.errors.extend(problems)
            return 400
        with self._lock:
            self.bodies.append(body)
            self.items.extend(items)
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = sink._receive(self.path, self.headers.get("Content-Encoding", ""), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


# --- Test-only views, served by wsgi_app() -----------------------------------------
# Each keeps secrets in local variables: frame variables reach Sentry, so they must
# be scrubbed there too.

logger = logging.getLogger("tests.support.sentry_stubs")


@csrf_exempt
def boom(request: HttpRequest) -> JsonResponse:
    token = request.GET.get("token")
    payload = json.loads(request.body) if request.content_type == "application/json" else {}
    form = request.POST.dict()
    raise RuntimeError(f"boom with {len(payload) + len(form)} fields, token set: {bool(token)}")


def text_boom(request: HttpRequest) -> JsonResponse:
    """Secrets inside an error message and in locals, as free text carries them."""
    password = "TEXT-SECRET-10"
    database = f"postgres://app:{password}@db:5432/app"
    card = "4111 1111 1111 1111"
    raise ValueError(
        f"Invalid: 'password'='{password}', Error: secret: {password}, {database}, "
        f'body \\"token\\": \\"{password}\\", card {card}'
    )


def logged_boom(request: HttpRequest) -> JsonResponse:
    """Logs the error with its traceback, then lets it propagate: one event, not two."""
    try:
        raise ValueError("logged and raised")
    except ValueError:
        logger.error("request failed", exc_info=True)
        raise


def logged_warning_boom(request: HttpRequest) -> JsonResponse:
    """A warning with secrets in its message and fields, from both kinds of logger, then an
    error: one trace holds the log items, the error event and the transaction."""
    logger.warning(
        "card declined, token=%s", "LOG-SECRET-20", extra={"password": "LOG-SECRET-21", "order": 7}
    )
    structlog.stdlib.get_logger("tests.support.sentry_stubs").warning(
        "structlog warning", api_key="LOG-SECRET-22", contact="ada.log@example.com"
    )
    logger.info("below the level: never sent")
    raise RuntimeError("after the warnings")


def user_boom(request: HttpRequest) -> JsonResponse:
    email = request.GET["email"]
    sentry_sdk.set_user({"id": "42", "email": email, "username": "ada", "ip_address": "10.1.2.3"})
    raise RuntimeError("user boom")


def helpers(request: HttpRequest) -> JsonResponse:
    capture.add_breadcrumb("cart loaded", category="cart", items=3)
    event_id = capture.capture_message(
        "helper message",
        "warning",
        tags={"feature": "payment"},
        context={"order": {"id": 7, "api_key": "ctx-secret-value"}},
        user_id=42,
    )
    try:
        raise LookupError("helper exception")
    except LookupError as error:
        capture.capture_exception(error, tags={"feature": "refund"})
    return JsonResponse({"event_id": event_id})


def forbidden(request: HttpRequest) -> JsonResponse:
    raise PermissionDenied


def missing(request: HttpRequest) -> JsonResponse:
    raise Http404("nothing here")


def ok(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


STUB_URLS = [
    path("stub/boom/", boom),
    path("stub/logged-boom/", logged_boom),
    path("stub/text-boom/", text_boom),
    path("stub/reset/<uidb64>/<token>/", boom),
    path("stub/user-boom/", user_boom),
    path("stub/warn-boom/", logged_warning_boom),
    path("stub/helpers/", helpers),
    path("stub/forbidden/", forbidden),
    path("stub/missing/", missing),
    path("stub/ok/", ok),
]


def __getattr__(name: str) -> Any:
    # The URL resolver reads `urlpatterns` at the first request, once apps are loaded.
    if name == "urlpatterns":
        return [*STUB_URLS, path("", include("config.urls"))]
    raise AttributeError(name)


def wsgi_app() -> Callable:
    """The project's WSGI app with the views above in front of its own URLs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    settings.ROOT_URLCONF = __name__
    return application
