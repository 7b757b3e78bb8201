"""What the Sentry SDK starts with: sentry_sdk.init's keyword arguments, from settings.

What leaves the process is limited twice: the SDK's `data_collection` option stops
integrations from collecting cookies, sensitive headers and query parameters (and
user data unless PII is allowed), then before_send and the trace's hook (filters.py:
before_send_transaction on sentry-sdk 2.x, before_send_span on 3.x) run our Redactor
(redaction.py, the log lines' rules too) over the whole event (bodies, frame
variables, breadcrumbs, spans). Where the SDK lines differ: _sdk_compat.py. See
docs/sentry.md.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.http import Http404
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.redis import RedisIntegration

from ..redaction import Redactor, secret_setting_values
from ._sdk_compat import django_integration, logging_integration, trace_options
from .beat_monitors import sdk_excluded_entries
from .filters import before_send, before_send_log, make_traces_sampler

# Header names containing these are never collected (the SDK adds auth, token, key,
# csrf, session, ... of its own); the last ones are personal data.
HEADER_DENY_TERMS = ["cookie", "signature"]
PII_HEADER_TERMS = ["forwarded", "-ip", "remote-", "via", "-user"]
# Settings whose values are masked wherever an event carries them: the Slack URL is its
# own credential, and the SDK records outgoing calls' URLs in breadcrumbs and spans.
logger = logging.getLogger(__name__)


def log_pending_events(pending: int, timeout: float) -> None:
    """At exit, with events still unsent: one log line, where the SDK prints three.

    Its own notice goes to stderr as plain text, which breaks a JSON-only log stream.
    """
    logger.warning(
        "Sentry: sending %d pending events before exit (up to %s s)",
        pending,
        timeout,
        extra={"pending_events": pending},
    )


def build_options() -> dict[str, Any]:
    """The keyword arguments of sentry_sdk.init, from settings."""
    allow_pii = settings.SENTRY_SEND_DEFAULT_PII
    secret_values = secret_setting_values()
    redactor = Redactor(allow_pii=allow_pii, secret_values=secret_values)
    # Sentry log items are log lines: personal data stays out, whatever PII allows.
    log_redactor = Redactor(allow_pii=False, secret_values=secret_values)
    header_terms = HEADER_DENY_TERMS + ([] if allow_pii else PII_HEADER_TERMS)
    return {
        "dsn": settings.SENTRY_DSN,
        "environment": settings.ENVIRONMENT,
        "release": settings.RELEASE_VERSION,
        "integrations": [
            # Middleware, signal and cache spans stay off: the costliest options per
            # request for little insight (middleware spans took a trivial view from
            # 0.49x to 0.33x of the requests per second it serves without Sentry).
            # Transactions named by URL pattern (/orders/{pk}/), on both SDK lines.
            django_integration(
                middleware_spans=False,
                signals_spans=False,
                cache_spans=False,
            ),
            # monitor_beat_tasks: beat-scheduled tasks report to Sentry Crons, except those
            # Crons cannot represent (under a minute: beat_monitors.py).
            CeleryIntegration(
                monitor_beat_tasks=True,
                exclude_beat_tasks=sdk_excluded_entries(settings.CELERY_BEAT_SCHEDULE),
            ),
            RedisIntegration(),
            # INFO and up become breadcrumbs; ERROR and up become events. Sentry Logs
            # come from our own handler (logs.py, SENTRY_LOGS_LEVEL), not this one's.
            logging_integration(breadcrumb_level=logging.INFO, event_level=logging.ERROR),
            AtexitIntegration(callback=log_pending_events),
        ],
        "traces_sampler": make_traces_sampler(settings.SENTRY_TRACES_SAMPLE_RATE),
{%- if cookiecutter.use_sentry_profiling == "y" %}
        # Profile whole traced sessions (the continuous profiler, on 2.x and 3.x).
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
        **trace_options(redactor, settings.SENTRY_DSN),
        "before_send_log": partial(before_send_log, redactor=log_redactor),
        "ignore_errors": [KeyboardInterrupt, Http404, PermissionDenied, DisallowedHost],
    }
