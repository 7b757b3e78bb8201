"""Where sentry-sdk 2.x and 3.x differ, in one place, chosen once by the installed major.

The project allows sentry-sdk>=2.70,<4. Both lines take the same init options for
errors, logs, sampling and data collection{% if cookiecutter.use_sentry_profiling == "y" %} (and profiling){% endif %}; they part on tracing and
on a few names, and everything else calls the functions below instead of the SDK:

- 2.x records a trace as a transaction event (`before_send_transaction` sees it);
  3.x streams each span as a `span` item (`before_send_span` may change it but not
  drop it, and the option `before_send_transaction` is gone). Probes are dropped on
  both by the traces sampler (filters.py), which 3.x still calls per segment.
- 2.x's `start_span(op=, name=)` + `set_data()` is 3.x's
  `start_span(name=, attributes={"sentry.op": ...})`; 3.x has no sentry_sdk.tracing.
- tags reach 2.x transactions but not 3.x spans: those carry scope attributes.
- DjangoIntegration(transaction_style=) is gone in 3.x, which always names by route
  (what "url" does on 2.x).
- LoggingIntegration's `level` means breadcrumbs on 2.x (Sentry Logs are
  `sentry_logs_level`) and Sentry Logs on 3.x (breadcrumbs are `breadcrumb_level`).
- `ignore_logger` stops events and breadcrumbs on 2.x, Sentry Logs on 3.x; the
  former is `ignore_logger_for_events` there.
- Both trace their own sends when the DSN has a port (a self-hosted Sentry; the
  tests' receiver): their check compares the DSN's host:port with the bare host.
  2.x adds a span to the transaction that runs; 3.x streams each send as a span of
  the trace its sending thread started in, a send again: the trace never ends.
  3.x's `ignore_spans` (2.x warns of it without streaming) keeps them from
  starting; on 2.x filters.before_send_transaction takes them out.
tests/sentry/test_sdk_compat.py fails if an installed SDK stops matching this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import sentry_sdk
from sentry_sdk import traces
from sentry_sdk.integrations import logging as sdk_logging
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from ..redaction import Redactor
from .filters import before_send_span, before_send_transaction

SDK_MAJOR = int(sentry_sdk.VERSION.partition(".")[0])
# 3.x sends traces only as streamed spans; 2.x (as the project runs it) as transactions.
STREAMS_SPANS = SDK_MAJOR >= 3
# Every 2.x from 2.70 and 3.0 (tested: 3.0.0b2); a later major gets a clear refusal.
SUPPORTED_MAJORS = (2, 3)
if SDK_MAJOR not in SUPPORTED_MAJORS:
    raise ImportError(f"sentry-sdk {sentry_sdk.VERSION} is not supported: use >=2.70,<4")

_ignore_for_events: Callable[[str], None] = getattr(
    sdk_logging, "ignore_logger_for_events" if STREAMS_SPANS else "ignore_logger"
)


def django_integration(**options: Any) -> DjangoIntegration:
    """The Django integration, naming transactions by URL pattern on both lines."""
    if not STREAMS_SPANS:
        options["transaction_style"] = "url"
    return DjangoIntegration(**options)


def logging_integration(*, breadcrumb_level: int, event_level: int) -> LoggingIntegration:
    """The logging integration with breadcrumbs and events only (Sentry Logs: logs.py)."""
    levels: dict[str, Any] = (
        {"level": None, "breadcrumb_level": breadcrumb_level, "event_level": event_level}
        if STREAMS_SPANS
        else {"level": breadcrumb_level, "event_level": event_level, "sentry_logs_level": None}
    )
    return LoggingIntegration(**levels)


def ignore_logger_for_events(name: str) -> None:
    """Neither events nor breadcrumbs from this logger (Sentry Logs are logs.py's)."""
    _ignore_for_events(name)


def trace_options(redactor: Redactor, dsn: str) -> dict[str, Any]:
    """The init options for what a trace sends: its scrubbing hook (transactions, or
    each span) and, on 3.x, no spans of the SDK's own sending to `dsn`."""
    if STREAMS_SPANS:
        return {
            "before_send_span": partial(before_send_span, redactor=redactor),
            "ignore_spans": [sdk_sends(dsn)],
        }
    hook = partial(before_send_transaction, redactor=redactor, sdk_sends=sdk_sends(dsn))
    return {"before_send_transaction": hook}


def sdk_sends(dsn: str) -> re.Pattern[str]:
    """The names of the SDK's own http.client spans to Sentry: `POST <ingest URL>`."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return re.compile(rf"[A-Z]+ {re.escape(parts.scheme)}://{re.escape(host)}/api/.*")


def start_span(op: str, name: str, data: dict[str, object]) -> AbstractContextManager[object]:
    """A child span of the running trace, with an operation and data, used with `with`."""
    if STREAMS_SPANS:
        # Attribute values the SDK cannot send as they are, it sends as text.
        attributes: dict[str, Any] = {"sentry.op": op, **data}
        return traces.start_span(name=name, attributes=attributes)
    child = sentry_sdk.start_span(op=op, name=name)
    for key, value in data.items():
        # 3.x's Span has no set_data: checked against 3.x too, this line needs the ignore.
        child.set_data(key, value)  # type: ignore[attr-defined, unused-ignore]
    return child


def set_trace_tag(scope: sentry_sdk.Scope, name: str, value: str) -> None:
    """A tag on the scope's events and on its trace: the transaction, or its spans."""
    scope.set_tag(name, value)
    if STREAMS_SPANS:
        scope.set_attribute(name, value)
