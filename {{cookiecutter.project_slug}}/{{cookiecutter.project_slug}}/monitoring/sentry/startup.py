"""Start the Sentry SDK, once per process.

init_sentry() is called by MonitoringConfig.ready() (gunicorn, runserver and
manage.py commands) and by Celery's celeryd_init / beat_init signals (workers and
beat); whichever comes first wins, the others find the client active and return.
Without SENTRY_DSN nothing is initialised and the SDK's functions are no-ops.
"""

from __future__ import annotations

import logging

import sentry_sdk
import structlog
from celery.signals import task_prerun
from django.conf import settings
from django.core.handlers import base as django_handlers
from django.utils.module_loading import import_string
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import ignore_logger

from ..context import on_request_bound
from ..middleware import access_logger
from .filters import CONTEXT_TAGS
from .options import build_options

# Loggers whose ERROR lines repeat what Sentry already has: Django's log of every bad
# Host header, and the access line of a 5xx (the exception is its own event).
UNREPORTED_LOGGERS = ("django.security.DisallowedHost", access_logger.name)
# The SDK's own logger (sentry_sdk.utils.logger).
SDK_LOGGER = "sentry_sdk.errors"


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
    off (options.py) the wrappers only add work to every request: about a tenth
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
