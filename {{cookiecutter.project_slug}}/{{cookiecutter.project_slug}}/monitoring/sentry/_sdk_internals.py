"""The three places where we reach into sentry-sdk's internals, and why.

Written and measured against sentry-sdk 2.75, and all three hold on 3.0.0b2 (the
project allows >=2.70,<4; where the lines differ: _sdk_compat.py). The first two are
speed-ups only: if the SDK changes what they rely on, they stop helping and
tests/sentry/test_sentry.py fails, naming this module; nothing is reported wrong. The
third (beat_monitor_config) gives `manage.py sentry_alerts` the very schedule the SDK's
check-ins announce; tests/alerting/test_sentry_alerts.py fails, naming this module, if it
moves.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.handlers import base as django_handlers
from django.utils.module_loading import import_string

# The SDK's own logger (sentry_sdk.utils.logger).
SDK_LOGGER = "sentry_sdk.errors"


def load_middleware_unwrapped() -> None:
    """Let Django load its middleware without the Django integration's wrappers.

    The integration replaces `django.core.handlers.base.import_string` (in
    sentry_sdk/integrations/django/middleware.py) so that every middleware class in
    MIDDLEWARE gets wrapped, to time each call as a span. With middleware spans off
    (options.py) the wrappers only add work: 1,989k against 1,820k instructions per
    request on a trivial view with Sentry on (callgrind, errors only). Putting
    Django's own function back before the WSGI handler loads its middleware skips
    them; init_sentry() runs from AppConfig.ready(), before that load.
    """
    # django-stubs do not declare base.py's own import of import_string.
    django_handlers.import_string = import_string  # type: ignore[attr-defined]


def skip_sdk_debug_records() -> None:
    """Stop the SDK from building log records that it then drops.

    The SDK logs at DEBUG on every request (twice per transaction it does not
    sample), and its logger's filter drops every record unless `debug=True`; only
    the records' creation is paid for, about 5 % of what the SDK adds to a trivial
    view. Raising the logger's level skips them. init_sentry() leaves the logger
    alone when `debug` is on.
    """
    logging.getLogger(SDK_LOGGER).setLevel(logging.WARNING)


def beat_monitor_config(celery_schedule: Any, app: Any, entry_name: str) -> dict[str, Any]:
    """The monitor config the SDK sends with the check-ins of one beat entry ({} if none).

    With monitor_beat_tasks=True the Celery integration upserts a Sentry Crons monitor per
    beat entry from `_get_monitor_config` (sentry_sdk/integrations/celery/beat.py):
    `{"schedule": {"type", "value"[, "unit"]}, "timezone"}`. The monitors we create carry
    the same schedule, so check-ins never rewrite them. It logs a warning and returns {}
    for schedules Crons cannot represent; our callers skip those before asking.
    """
    from sentry_sdk.integrations.celery.beat import _get_monitor_config

    return dict(_get_monitor_config(celery_schedule, app, entry_name))
