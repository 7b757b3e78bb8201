"""Start the Sentry SDK, once per process.

init_sentry() is called by SentryConfig.ready() (apps.py) in every process that
sets Django up: gunicorn, runserver and manage.py commands, and Celery workers and
beat, which do so while importing their modules, before any task runs or is sent.
A second call finds the client active and returns. Without SENTRY_DSN nothing is
initialised and the SDK's functions are no-ops.
"""

from __future__ import annotations

import sentry_sdk
from django.conf import settings
from sentry_sdk.integrations.django import DjangoIntegration
from structlog.contextvars import bind_contextvars

from ..context import SPAN_ID_KEY, TRACE_ID_KEY, on_context_bound
from ..hooks import subscribe
from ..logs import add_root_handler
from ..middleware import access_logger
from ..missed_beats import on_missed_beat
from ..stuck_tasks import on_stuck_task
from ._sdk_compat import ignore_logger_for_events, set_trace_tag
from ._sdk_internals import load_middleware_unwrapped, skip_sdk_debug_records
from .celery_reports import report_missed_beat, report_stuck_task
from .filters import CONTEXT_TAGS
from .logs import SentryLogsHandler
from .options import build_options

# Loggers whose ERROR lines repeat what Sentry already has: Django's log of every bad
# Host header, and the access line of a 5xx (the exception is its own event).
UNREPORTED_LOGGERS = ("django.security.DisallowedHost", access_logger.name)


def init_sentry() -> bool:
    """Start the SDK if SENTRY_DSN is set and no client runs yet; True when active."""
    if sentry_sdk.get_client().is_active():
        return True
    if not settings.SENTRY_DSN:
        return False
    sentry_sdk.init(**build_options())
    client = sentry_sdk.get_client()
    if not client.options["debug"]:
        skip_sdk_debug_records()
    django_integration = client.get_integration(DjangoIntegration)
    if django_integration is not None and not django_integration.middleware_spans:
        load_middleware_unwrapped()
    for name in UNREPORTED_LOGGERS:
        ignore_logger_for_events(name)
    # Called once a request's or a task's ids are bound (context.py): a hook rather
    # than a middleware and a task receiver of its own, which every request would pay.
    subscribe(on_context_bound, tag_scope)
    subscribe(on_context_bound, bind_sentry_trace)
    if settings.SENTRY_LOGS_LEVEL:
        add_root_handler(SentryLogsHandler(level=settings.SENTRY_LOGS_LEVEL))
    subscribe(on_stuck_task, report_stuck_task)
    subscribe(on_missed_beat, report_missed_beat)
    return True


def tag_scope(bound: dict[str, str]) -> None:
    """Tag the current request's or task's scope with the ids bound for its logs.

    Runs as soon as they are bound, so the transaction (or, on sentry-sdk 3.x, every
    span) gets them too: it finishes after the ids are unbound again.
    """
    scope = sentry_sdk.get_isolation_scope()
    for name in CONTEXT_TAGS:
        if bound.get(name):
            set_trace_tag(scope, name, str(bound[name]))


def bind_sentry_trace(bound: dict[str, str]) -> None:
    """Log lines carry the trace Sentry records, not the one the middleware read.

    The SDK has already continued the incoming trace (its `sentry-trace` or W3C
    `traceparent` header, or the Celery message's) by the time the ids are bound;
    `get_traceparent()` (public in 2.x and 3.x) gives `trace_id-span_id[-sampled]`.
    """
    traceparent = sentry_sdk.get_traceparent()
    if not traceparent:
        return
    trace_id, _, rest = traceparent.partition("-")
    span_id = rest.partition("-")[0]
    bind_contextvars(**{TRACE_ID_KEY: trace_id, SPAN_ID_KEY: span_id})
