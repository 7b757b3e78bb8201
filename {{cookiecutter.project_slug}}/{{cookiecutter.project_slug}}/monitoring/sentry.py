"""Sentry error and performance monitoring, set up once per process.

init_sentry() is called by MonitoringConfig.ready() (gunicorn, runserver and
manage.py commands) and by Celery's celeryd_init / beat_init signals (workers and
beat); whichever comes first wins, the others find the client active and return.
Without SENTRY_DSN nothing is initialised and the SDK's functions are no-ops.

What leaves the process is limited twice: the SDK's `data_collection` option stops
integrations from collecting cookies, sensitive headers and query parameters (and
user data unless PII is allowed), then before_send / before_send_transaction run
our Redactor (redaction.py, the log lines' rules too) over the whole event (bodies,
frame variables, breadcrumbs, spans).
See docs/sentry.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import sentry_sdk
import structlog
from celery.signals import task_prerun
from django.conf import settings
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.core.handlers import base as django_handlers
from django.http import Http404
from django.utils.module_loading import import_string
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.integrations.redis import RedisIntegration

from .context import on_request_bound
from .redaction import Redactor

# Requests to these paths never become events or transactions (probes{% if cookiecutter.use_prometheus == "y" %}, scrapers{% endif %}).
UNMONITORED_PATH_PREFIXES = ("/health/",{% if cookiecutter.use_prometheus == "y" %} "/metrics"{% endif %})
# Context variables (bound by the request middleware and Celery signals) sent as tags.
CONTEXT_TAGS = ("request_id", "task_id")
# Loggers whose ERROR lines repeat what Sentry already has: Django's log of every bad
# Host header, and the access line of a 5xx (the exception is its own event).
UNREPORTED_LOGGERS = ("django.security.DisallowedHost", f"{__package__}.access")
# Event fields the SDK fills with its own data (nothing from requests or users).
SDK_FIELDS = frozenset({"_meta", "sdk", "modules", "debug_meta", "platform", "timestamp"})
# The SDK's own logger (sentry_sdk.utils.logger).
SDK_LOGGER = "sentry_sdk.errors"
# Header names containing these are never collected (the SDK adds auth, token, key,
# csrf, session, ... of its own); the last ones are personal data.
HEADER_DENY_TERMS = ["cookie", "signature"]
PII_HEADER_TERMS = ["forwarded", "-ip", "remote-", "via", "-user"]


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
        ignore_logger(name)
    # After the correlation receivers (connected when config.celery_app is imported).
    task_prerun.connect(tag_scope_from_context, weak=False)
    # Requests: called by RequestContextMiddleware once the request id is bound (a
    # hook rather than a middleware of its own: each middleware costs every request).
    if tag_scope_from_context not in on_request_bound:
        on_request_bound.append(tag_scope_from_context)
    return True


def load_middleware_unwrapped() -> None:
    """Let Django load its middleware without the Django integration's wrappers.

    The integration wraps every middleware class in MIDDLEWARE (through Django's
    `import_string`) so that it can time each call as a span. With middleware spans
    off (build_options) the wrappers only add work to every request: about a tenth
    of what the SDK adds to a trivial view (BENCHMARKS.md of the template), so
    init_sentry() calls this unless middleware spans are on. It runs before the WSGI
    handler loads its middleware: init_sentry() is called from AppConfig.ready().
    """
    django_handlers.import_string = import_string


def skip_sdk_debug_records() -> None:
    """Stop the SDK from building log records that it then drops.

    The SDK logs at DEBUG on every request (twice per transaction it does not
    sample), and its logger's filter drops every record unless `debug=True`; only
    the records' creation is paid for, about 5 % of what the SDK adds to a trivial
    view. Raising the logger's level skips them. init_sentry() leaves the logger
    alone when `debug` is on.
    """
    logging.getLogger(SDK_LOGGER).setLevel(logging.WARNING)


def tag_scope_from_context(**kwargs: object) -> None:
    """Tag the current request's or task's scope with the ids bound for its logs.

    Runs once they are bound (RequestContextMiddleware's hook, task_prerun), so the
    transaction gets them too: it finishes after the ids are unbound again.
    """
    bound = structlog.contextvars.get_contextvars()
    scope = sentry_sdk.get_isolation_scope()
    for name in CONTEXT_TAGS:
        if bound.get(name):
            scope.set_tag(name, str(bound[name]))


def build_options() -> dict[str, Any]:
    """The keyword arguments of sentry_sdk.init, from settings."""
    allow_pii = settings.SENTRY_SEND_DEFAULT_PII
    redactor = Redactor(allow_pii=allow_pii)
    header_terms = HEADER_DENY_TERMS + ([] if allow_pii else PII_HEADER_TERMS)
    return {
        "dsn": settings.SENTRY_DSN,
        "environment": settings.ENVIRONMENT,
        "release": settings.RELEASE_VERSION,
        "integrations": [
            # Middleware, signal and cache spans stay off: measured as the costliest
            # options per request, for little insight (BENCHMARKS.md of the template).
            DjangoIntegration(
                transaction_style="url",
                middleware_spans=False,
                signals_spans=False,
                cache_spans=False,
            ),
            # monitor_beat_tasks: beat-scheduled tasks report to Sentry Crons.
            CeleryIntegration(monitor_beat_tasks=True),
            RedisIntegration(),
            # INFO and up become breadcrumbs; ERROR and up become events.
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        "traces_sampler": make_traces_sampler(settings.SENTRY_TRACES_SAMPLE_RATE),
{%- if cookiecutter.use_sentry_profiling == "y" %}
        # Profile whole traced sessions (the SDK 2.x continuous profiler API).
        "profile_session_sample_rate": settings.SENTRY_PROFILES_SAMPLE_RATE,
        "profile_lifecycle": "trace",
{%- endif %}
        "attach_stacktrace": True,
        # Replaces send_default_pii, deprecated from sentry-sdk 2.72.
        "data_collection": {
            "user_info": allow_pii,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "denylist", "terms": header_terms}},
            "url_query_params": {"mode": "denylist", "terms": ["dsn", "signature"]},
            # SQL parameters carry session keys and password hashes: never sent.
            "database_query_data": False,
            "queues": allow_pii,
        },
        "before_send": partial(before_send, redactor=redactor),
        "before_send_transaction": partial(before_send, redactor=redactor),
        "ignore_errors": [KeyboardInterrupt, Http404, PermissionDenied, DisallowedHost],
    }


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
    bound = structlog.contextvars.get_contextvars()
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


def is_unmonitored_path(path: str) -> bool:
    return path.startswith(UNMONITORED_PATH_PREFIXES)


def _request_path(sampling_context: dict[str, Any]) -> str:
    if environ := sampling_context.get("wsgi_environ"):
        return environ.get("PATH_INFO", "")
    if scope := sampling_context.get("asgi_scope"):
        return scope.get("path", "")
    return ""


def _url_path(url: str) -> str:
    # "https://host/health/?x" -> "/health/" without the cost of urlsplit.
    after_scheme = url.split("://", 1)[-1]
    slash = after_scheme.find("/")
    return after_scheme[slash:].split("?", 1)[0] if slash >= 0 else "/"
