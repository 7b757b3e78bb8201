"""What reaches Sentry: which transactions are recorded, and every event as it leaves.

make_traces_sampler(), before_send(), before_send_span() and before_send_log() are
the SDK's hooks (options.py passes them to sentry_sdk.init; _sdk_compat.py picks the
trace's hook for the installed SDK: transactions on 2.x, spans on 3.x). Requests to
UNMONITORED_PATH_PREFIXES are neither traced nor reported: the sampler is what drops
their traces on both lines, as 3.x's before_send_span cannot drop a span. Every
other event, transaction and span is tagged with the request/task id and run through
the Redactor (redaction.py) last, before it leaves the process, as every Sentry log
item is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..context import current_context
from ..redaction import Redactor

# Requests to these paths never become events or transactions (probes{% if cookiecutter.use_prometheus == "y" %}, scrapers{% endif %}).
UNMONITORED_PATH_PREFIXES = ("/health/",{% if cookiecutter.use_prometheus == "y" %} "/metrics"{% endif %})
# Context variables (bound by the request middleware and Celery signals) sent as tags.
CONTEXT_TAGS = ("request_id", "task_id")
# What a streamed span says of its user besides the id (3.x adds them with PII allowed).
USER_ATTRIBUTES = ("user.email", "user.name", "user.ip_address")
# Event fields the SDK fills with its own data (nothing from requests or users).
SDK_FIELDS = frozenset({"_meta", "sdk", "modules", "debug_meta", "platform", "timestamp"})


def make_traces_sampler(rate: float) -> Callable[[dict[str, Any]], float]:
    """Sample `rate` of transactions, follow the caller's decision, never trace probes."""

    def traces_sampler(sampling_context: dict[str, Any]) -> float:
        if is_unmonitored_path(_request_path(sampling_context)):
            return 0.0
        parent_sampled = sampling_context.get("parent_sampled")
        if parent_sampled is not None:
            return float(parent_sampled)
        return rate

    return traces_sampler


def before_send(
    event: dict[str, Any], hint: dict[str, Any], *, redactor: Redactor
) -> dict[str, Any] | None:
    """Drop probe noise, tag the event with the request/task id, scrub it."""
    url = event.get("request", {}).get("url", "")
    if isinstance(url, str) and is_unmonitored_path(_url_path(url)):
        return None
    # Scope tags are set by then in requests and tasks; this covers other code paths.
    bound = current_context()
    tags = event.setdefault("tags", {})
    for name in CONTEXT_TAGS:
        if bound.get(name) and name not in tags:
            tags[name] = str(bound[name])
    user = event.get("user")
    if isinstance(user, dict) and not redactor.allow_pii:
        # Identify users by id only: drop rather than mask the personal fields.
        for field in ("email", "username", "ip_address", "name"):
            user.pop(field, None)
    for key, value in event.items():
        if key not in SDK_FIELDS:
            event[key] = redactor(value)
    return event


def before_send_transaction(
    event: dict[str, Any], hint: dict[str, Any], *, redactor: Redactor, sdk_sends: re.Pattern[str]
) -> dict[str, Any] | None:
    """A transaction (sentry-sdk 2.x) as every event, without the SDK's own sends.

    With a port in the DSN the SDK records its sending to Sentry as http.client spans
    of the transaction that runs (_sdk_compat.sdk_sends); 3.x is told to ignore them.
    """
    spans = event.get("spans")
    if isinstance(spans, list):
        event["spans"] = [
            span for span in spans if not sdk_sends.fullmatch(str(span.get("description")))
        ]
    return before_send(event, hint, redactor=redactor)


def before_send_span(
    span: dict[str, Any], hint: dict[str, Any], *, redactor: Redactor
) -> dict[str, Any]:
    """Tag a streamed span (sentry-sdk 3.x) with the request/task id, scrub it.

    Only its name and attributes can change (the SDK keeps the rest): the user's
    personal fields go unless PII is allowed, as on events.
    """
    span["name"] = redactor.text(span["name"])
    attributes = span.setdefault("attributes", {})
    bound = current_context()
    for name in CONTEXT_TAGS:
        if bound.get(name) and name not in attributes:
            attributes[name] = str(bound[name])
    if not redactor.allow_pii:
        for field in USER_ATTRIBUTES:
            attributes.pop(field, None)
    span["attributes"] = redactor(attributes)
    return span


def before_send_log(
    log: dict[str, Any], hint: dict[str, Any], *, redactor: Redactor
) -> dict[str, Any]:
    """Scrub a Sentry log item as log lines are: its body and its attributes' values."""
    log["body"] = redactor(log["body"])
    log["attributes"] = redactor(log["attributes"])
    return log


def is_unmonitored_path(path: str) -> bool:
    return path.startswith(UNMONITORED_PATH_PREFIXES)


def _request_path(sampling_context: dict[str, Any]) -> str:
    if environ := sampling_context.get("wsgi_environ"):
        return str(environ.get("PATH_INFO", ""))
    if scope := sampling_context.get("asgi_scope"):
        return str(scope.get("path", ""))
    return ""


def _url_path(url: str) -> str:
    # "https://host/health/?x" -> "/health/" without the cost of urlsplit.
    after_scheme = url.split("://", 1)[-1]
    slash = after_scheme.find("/")
    return after_scheme[slash:].split("?", 1)[0] if slash >= 0 else "/"
