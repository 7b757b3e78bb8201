"""Log records as Sentry Logs, from SENTRY_LOGS_LEVEL up (off while it is empty).

SentryLogsHandler sits on the root logger beside the stdout handler (startup.py adds
it through logs.add_root_handler, so it stays when Celery applies LOGGING again) and
hands each record to the SDK's logs API, `sentry_sdk.logger`: the message and fields
the JSON line has, plus the request/task ids and the trace id bound for it. The SDK
links the item to the trace of its scope, the one bind_sentry_trace() wrote into the
log lines; filters.before_send_log scrubs it with the Redactor, as every event.

Why not the logging integration's own capture (LoggingIntegration's
`sentry_logs_level`, on with `enable_logs` or `capture_sentry_logs`): it reads
`record.getMessage()`, and the records structlog hands over (the access line among
them) have their event dict as message, so their body would be the dict's repr.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sentry_sdk
import sentry_sdk.logger
from structlog.contextvars import get_contextvars

from .._structlog_bridge import structlog_origin
from ..logs import add_record_fields

# Records the SDK writes about itself: sending them would log again while sending.
SDK_LOGGER_PREFIX = "sentry_sdk"
_SEVERITIES = (
    (logging.CRITICAL, sentry_sdk.logger.fatal),
    (logging.ERROR, sentry_sdk.logger.error),
    (logging.WARNING, sentry_sdk.logger.warning),
    (logging.INFO, sentry_sdk.logger.info),
)
_ATTRIBUTE_TYPES = (str, bool, int, float)


class SentryLogsHandler(logging.Handler):
    """Send each record at or above the handler's level to Sentry Logs."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(SDK_LOGGER_PREFIX) or not sentry_sdk.get_client().is_active():
            return
        try:
            body, attributes = log_item(record)
            severity(record.levelno)(body, attributes=attributes)
        except Exception:
            # As any handler: a record that can't be sent must not break the caller.
            self.handleError(record)


def severity(levelno: int) -> Callable[..., None]:
    """The sentry_sdk.logger function for a record's level."""
    for lowest, send in _SEVERITIES:
        if levelno >= lowest:
            return send
    return sentry_sdk.logger.debug


def log_item(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """(body, attributes) of a record: its message, its fields and the ids bound for it.

    Values are not scrubbed here: before_send_log (filters.py) scrubs every log item.
    """
    origin = structlog_origin(record)
    if origin is not None:
        event = dict(origin[2])
    else:
        fields = {"event": record.getMessage(), "_record": record}
        event = dict(add_record_fields(None, "", fields))
        del event["_record"]
    body = event.pop("event", "")
    for key in ("exc_info", "stack_info"):
        event.pop(key, None)
    attributes: dict[str, Any] = {"logger.name": record.name}
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        attributes["exception.type"] = type(error).__name__
        attributes["exception.message"] = str(error)
    # request_id, task_id, task_name, trace_id, span_id: what the JSON line has.
    for key, value in {**event, **get_contextvars()}.items():
        if value is not None:
            attributes[key] = value if isinstance(value, _ATTRIBUTE_TYPES) else str(value)
    return body if isinstance(body, str) else str(body), attributes
