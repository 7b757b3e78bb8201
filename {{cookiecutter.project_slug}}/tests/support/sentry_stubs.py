"""Test doubles for Sentry: an envelope receiver on loopback and a few test-only views.

EnvelopeSink is what a Sentry ingest endpoint is to the SDK: it accepts
`POST /api/<project>/envelope/`, undoes gzip (or brotli) compression, parses the
envelope (a header line, then item header + payload pairs) and keeps every item,
refusing log and span items that do not have their documented shape.

A trace reaches it as a `transaction` event from sentry-sdk 2.x and as `span` items
(one per span, its root the segment) from 3.x; `segments()` reads either as Segment,
so the tests assert on what each SDK line sends in the terms both share.

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
from dataclasses import dataclass, field
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
SPAN_CONTENT_TYPE = "application/vnd.sentry.items.span.v2+json"
SPAN_STATUSES = {"ok", "error"}
TRACE_ID = re.compile(r"[0-9a-f]{32}")
SPAN_ID = re.compile(r"[0-9a-f]{16}")
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
        if not TRACE_ID.fullmatch(str(log.get("trace_id"))):
            problems.append(f"log trace_id {log.get('trace_id')!r}")
        problems += attribute_problems("log", log.get("attributes", {}))
    return problems


def attribute_problems(kind: str, attributes: Any) -> list[str]:
    """Typed attributes, as logs and spans carry them: {name: {"type", "value"}}."""
    if not isinstance(attributes, dict):
        return [f"{kind} attributes {attributes!r}"]
    problems = []
    for name, attribute in attributes.items():
        if not isinstance(attribute, dict):
            problems.append(f"{kind} attribute {name}: {attribute!r}")
            continue
        expected = ATTRIBUTE_TYPES.get(attribute.get("type"))
        value = attribute.get("value")
        if expected is None or not isinstance(value, expected):
            problems.append(f"{kind} attribute {name}: {attribute!r}")
    return problems


def span_problems(envelope_headers: dict[str, Any], item: Item) -> list[str]:
    """What a `span` item (span v2) gets wrong against Sentry's documented shape
    (develop.sentry.dev, SDK telemetry "Span Protocol"): the envelope's dynamic sampling
    context, the item header's content_type and item_count, then each span's ids, name,
    status, segment flag, timestamps and typed attributes."""
    problems = []
    trace = envelope_headers.get("trace")
    if not isinstance(trace, dict) or not TRACE_ID.fullmatch(str(trace.get("trace_id"))):
        problems.append(f"span envelope without a dynamic sampling context: {trace!r}")
    if item.headers.get("content_type") != SPAN_CONTENT_TYPE:
        problems.append(f"span item content_type {item.headers.get('content_type')!r}")
    spans = item.payload.get("items") if isinstance(item.payload, dict) else None
    if not isinstance(spans, list) or not spans:
        return [*problems, "span item payload has no `items` list"]
    if item.headers.get("item_count") != len(spans):
        problems.append(f"span item_count {item.headers.get('item_count')} for {len(spans)}")
    for span in spans:
        if not TRACE_ID.fullmatch(str(span.get("trace_id"))):
            problems.append(f"span trace_id {span.get('trace_id')!r}")
        if not SPAN_ID.fullmatch(str(span.get("span_id"))):
            problems.append(f"span span_id {span.get('span_id')!r}")
        if "parent_span_id" in span and not SPAN_ID.fullmatch(str(span["parent_span_id"])):
            problems.append(f"span parent_span_id {span['parent_span_id']!r}")
        if not isinstance(span.get("name"), str) or span.get("status") not in SPAN_STATUSES:
            problems.append(f"span name/status {span.get('name')!r} {span.get('status')!r}")
        if not isinstance(span.get("is_segment"), bool):
            problems.append(f"span is_segment {span.get('is_segment')!r}")
        start, end = span.get("start_timestamp"), span.get("end_timestamp")
        if not isinstance(start, int | float) or not isinstance(end, int | float) or end < start:
            problems.append(f"span timestamps {start!r} {end!r}")
        problems += attribute_problems("span", span.get("attributes", {}))
    return problems


@dataclass
class Child:
    """A span inside a segment: its name (a transaction span's description), op, data."""

    name: str
    op: str | None
    data: dict[str, Any]


@dataclass
class Segment:
    """A trace's root in the terms both SDK lines send: a 2.x transaction event, or a
    3.x segment span (with its children, the spans naming it as their segment)."""

    name: str
    trace_id: str
    status: str | None
    environment: str | None
    release: str | None
    url: str  # the request's URL without its query ("" for a task)
    query_string: str
    tags: dict[str, Any]  # 2.x tags; 3.x attributes, where its scope's tags go
    children: list[Child] = field(default_factory=list)

    @classmethod
    def from_transaction(cls, event: dict[str, Any]) -> Segment:
        request = event.get("request", {})
        return cls(
            name=event["transaction"],
            trace_id=event["contexts"]["trace"]["trace_id"],
            status=event["contexts"]["trace"].get("status"),
            environment=event.get("environment"),
            release=event.get("release"),
            url=request.get("url", ""),
            query_string=request.get("query_string", ""),
            tags=event.get("tags", {}),
            children=[
                Child(span.get("description", ""), span.get("op"), span.get("data", {}))
                for span in event.get("spans", [])
            ],
        )

    @classmethod
    def from_spans(cls, segment: dict[str, Any], spans: list[dict[str, Any]]) -> Segment:
        def values(span: dict[str, Any]) -> dict[str, Any]:
            return {name: a["value"] for name, a in span.get("attributes", {}).items()}

        attributes = values(segment)
        children = [
            Child(span["name"], values(span).get("sentry.op"), values(span))
            for span in spans
            if not span["is_segment"]
            and values(span).get("sentry.segment.id") == segment["span_id"]
        ]
        return cls(
            name=segment["name"],
            trace_id=segment["trace_id"],
            status=segment["status"],
            environment=attributes.get("sentry.environment"),
            release=attributes.get("sentry.release"),
            url=attributes.get("url.full", "").partition("?")[0],
            query_string=attributes.get("http.query", ""),
            tags=attributes,
            children=children,
        )


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

    def spans(self) -> list[dict[str, Any]]:
        """Every streamed span that arrived (each `span` item holds a batch)."""
        return [span for batch in self.of_type("span") for span in batch["items"]]

    def segments(self) -> list[Segment]:
        """Every trace root that arrived, from transactions (2.x) or spans (3.x)."""
        spans = self.spans()
        return [Segment.from_transaction(event) for event in self.transactions()] + [
            Segment.from_spans(span, spans) for span in spans if span["is_segment"]
        ]

    def wait_for_segments(
        self, match: Callable[[Segment], bool] = lambda _: True, timeout: float = 15.0
    ) -> list[Segment]:
        """Segments that `match`, as soon as there is one (or [] after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [segment for segment in self.segments() if match(segment)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

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
        headers, items = parse_envelope(body)
        problems = [
            problem for item in items if item.type == "log" for problem in log_problems(item)
        ] + [
            problem
            for item in items
            if item.type == "span"
            for problem in span_problems(headers, item)
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
