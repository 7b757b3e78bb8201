"""One logging pipeline for structlog and the standard library.

Every record (Django, Celery, gunicorn, `logging.getLogger(...)` in the app,
`structlog.stdlib.get_logger(...)`) ends in the same structlog
ProcessorFormatter: one JSON object per line with LOG_FORMAT=json, readable
lines with LOG_FORMAT=console. Both formats add the request/task ids bound in
context variables and remove secrets and e-mail addresses (redaction.py).

- settings: LOGGING = build_logging(...), applied by Django through
  LOGGING_CONFIG = "...monitoring.logs.configure_logging" (which also
  configures structlog);
- gunicorn: logconfig_dict = settings.LOGGING in gunicorn.conf.py;
- Celery: keeps its hands off (celery_process.py answers its setup_logging signal).
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import structlog
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.json import JsonEncoder
from structlog.contextvars import merge_contextvars
from structlog.stdlib import ProcessorFormatter
from structlog.typing import EventDict, Processor, WrappedLogger

from ._stdlib_logging import skip_unrendered_record_attributes
from ._structlog_bridge import structlog_origin
from ._structlog_context import bound_context
from .redaction import FILTERED, redact

LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5

# Fields we write ourselves from trusted values: not worth scanning for secrets.
TRUSTED_FIELDS = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "environment",
        "release",
        "request_id",
        "task_id",
        "task_name",
        "trace_id",
        "span_id",
        "method",
        "status",
        "duration_ms",
        "client_ip",
        "slow",
    }
)
# This package, for the filters LOGGING names in modules beside this one.
_PACKAGE = __name__.rpartition(".")[0]
# Attributes every LogRecord has; anything else on a record came in `extra=`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_FORMATTER_META = ("_record", "_from_structlog")
# python-json-logger's encoder (datetimes, exceptions, enums, dataclasses, bytes,
# anything else as str), built once rather than once per line.
_ENCODER = JsonEncoder(ensure_ascii=False, separators=(",", ":"))
# The fields JsonLine writes from the record and its settings, in this order.
_LINE_FIELDS = ("timestamp", "level", "logger", "message", "environment", "release")
_encode_string = json.encoder.encode_basestring  # C; non-ASCII kept, as in _ENCODER
# Line separators that JSON leaves raw with ensure_ascii=False (escape_line_breakers).
_LINE_BREAKERS = re.compile("[\u0085\u2028\u2029]")
_format_exc_info = structlog.processors.format_exc_info
_render_stack_info = structlog.processors.StackInfoRenderer()
# Handlers an integration puts on the root logger once it starts (add_root_handler):
# configure_logging() puts them back whenever it applies LOGGING again, which replaces
# the root logger's handlers (a Celery worker does, after Django's set-up).
_extra_root_handlers: list[logging.Handler] = []


def add_record_fields(logger: WrappedLogger, method_name: str, event: EventDict) -> EventDict:
    """Bring a standard-library record's `extra=` fields into the event.

    Django passes the request and status with its request/security records: we
    keep the method and path (never the headers), and the status as Django names
    it, `status_code`: `status` is the access line's alone, so that counting lines
    with `status >= 500` counts each failed request once.
    """
    attributes = event["_record"].__dict__
    for key, value in attributes.items():
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
            event.setdefault(key, value)
    request = event.pop("request", None)
    if request is not None:
        event.setdefault("method", getattr(request, "method", None))
        event.setdefault("path", getattr(request, "path", None))
    return event


class JsonLine:
    """The whole JSON rendering, in one pass (it runs for every line).

    Contract fields first (timestamp and level from the record), then the
    request/task ids bound in context variables, then everything else with
    secrets and e-mail addresses removed; one JSON object, one line.

    Per line, only what changes is computed: the timestamp's date and time are
    formatted once per second (microseconds appended), and the fields that are
    the same for every line of a logger at a level (level, logger, environment,
    release) are encoded once and kept.
    """

    def __init__(self, environment: str, release: str) -> None:
        env_release = _ENCODER.encode({"environment": environment, "release": release})
        self.suffix = "," + env_release[1:-1]
        # (second, its text) in one tuple: threads swap it atomically.
        self._second: tuple[int, str] = (-1, "")
        self._heads: dict[tuple[str, str], str] = {}

    def timestamp(self, created: float) -> str:
        second = int(created)
        cached_second, text = self._second
        if second != cached_second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int((created - second) * 1_000_000):06d}Z"

    def head(self, level: str, logger_name: str) -> str:
        """`"level":"info","logger":"name","message":` for this level and logger."""
        text = self._heads.get((level, logger_name))
        if text is None:
            text = _ENCODER.encode({"level": level, "logger": logger_name})[1:-1]
            text = self._heads[(level, logger_name)] = f'{text},"message":'
        return text

    def __call__(self, logger: WrappedLogger, method_name: str, event: EventDict) -> str:
        record: logging.LogRecord = event.pop("_record")
        event.pop("_from_structlog", None)
        if "exc_info" in event:
            event = _format_exc_info(logger, method_name, event)
        if "stack_info" in event:
            event = _render_stack_info(logger, method_name, event)
        message = redact(event.pop("event", ""))
        fields = bound_context()  # merge_contextvars' keys, without its walk's cost
        for key, value in event.items():
            if key in TRUSTED_FIELDS:
                fields[key] = value
            elif redact.is_sensitive(key):
                fields[key] = FILTERED
            else:
                fields[key] = redact(value)
        for key in _LINE_FIELDS:  # written above, from the record and settings
            fields.pop(key, None)
        line = "".join(
            (
                '{"timestamp":"',
                self.timestamp(record.created),
                '",',
                self.head(record.levelname.lower(), record.name),
                _encode_string(message) if isinstance(message, str) else _ENCODER.encode(message),
                self.suffix,
            )
        )
        line = f"{line},{_ENCODER.encode(fields)[1:]}" if fields else line + "}"
        return escape_line_breakers(line)


def escape_line_breakers(line: str) -> str:
    """Escape U+0085, U+2028 and U+2029, which JSON allows raw but many log shippers
    (and JavaScript) read as the end of a line, splitting one record in two."""
    # Nearly every line has none: three substring scans (about 40 ns for a 300-character
    # line, where one regex search takes 850 ns), no copy.
    if "\u2028" not in line and "\u2029" not in line and "\x85" not in line:
        return line
    return _LINE_BREAKERS.sub(lambda match: f"\\u{ord(match[0]):04x}", line)


def redact_console(logger: WrappedLogger, method_name: str, event: EventDict) -> EventDict:
    for key in _FORMATTER_META:
        event.pop(key, None)
    return {
        key: value
        if key in TRUSTED_FIELDS or key == "exc_info"
        else FILTERED
        if redact.is_sensitive(key)
        else redact(value)
        for key, value in event.items()
    }


class StructuredFormatter(ProcessorFormatter):
    """structlog's ProcessorFormatter, without a LogRecord copy per structlog event.

    ProcessorFormatter copies each record so that other handlers see it
    unchanged. For events from structlog loggers, copying the event dict leaves
    the record untouched just as well, and the access line of every request is
    one of them: it skips that copy and the base Formatter pass.
    """

    def format(self, record: logging.LogRecord) -> str:
        origin = structlog_origin(record)
        if origin is None:
            return super().format(record)
        logger, method_name, event_dict = origin
        event: Any = {**event_dict, "_record": record, "_from_structlog": True}
        for processor in self.processors:
            event = processor(logger, method_name, event)
        return cast(str, event)  # the last processor is the renderer (make_formatter)


def make_formatter(log_format: str, environment: str, release: str) -> ProcessorFormatter:
    """The formatter of every handler (dictConfig factory, see build_logging)."""
    processors: list[Processor]
    if log_format == "json":
        processors = [JsonLine(environment, release)]
    else:
        processors = [
            merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            _render_stack_info,
            redact_console,
            structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty()),
        ]
    return StructuredFormatter(processors=processors, foreign_pre_chain=[add_record_fields])


class UnhandledErrorsOnly(logging.Filter):
    """Keep only `django.request` records that carry an exception at error level.

    Django logs every 4xx/5xx response there; the access line already says so.
    What it alone has is the traceback of an unhandled exception: one line, with
    the request's method, path and request_id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR and record.exc_info is not None


class ReceivedTaskFields(logging.Filter):
    """Give the worker's "Task name[id] received" line its task_id and task_name.

    Celery's worker writes it (logger celery.worker.strategy) when the message
    arrives, before the task runs and binds its context (correlation.py), so
    nothing else would put them at the top level. Celery passes the task's id and
    name as the record's arguments. The task's request_id is bound only when the
    task starts: this line never has one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        task = record.args
        if isinstance(task, Mapping) and "id" in task:
            record.task_id = task["id"]
            record.task_name = task.get("name")
        return True


def build_logging(
    *,
    level: str = "INFO",
    log_format: str = "json",
    log_file: str = "",
    environment: str,
    release: str,
) -> dict[str, Any]:
    """A logging.config.dictConfig() dictionary for Django, Celery and gunicorn."""
    level = level.upper()
    if level not in LOG_LEVELS:
        raise ImproperlyConfigured(f"LOG_LEVEL is {level!r}; use one of: {', '.join(LOG_LEVELS)}.")
    if log_format not in LOG_FORMATS:
        raise ImproperlyConfigured(
            f"LOG_FORMAT is {log_format!r}; use one of: {', '.join(LOG_FORMATS)}."
        )
    if log_file and not Path(log_file).parent.is_dir():
        raise ImproperlyConfigured(f"LOG_FILE is {log_file!r}; its folder does not exist.")

    def formatter(fmt: str) -> dict[str, Any]:
        return {
            "()": f"{__name__}.make_formatter",
            "log_format": fmt,
            "environment": environment,
            "release": release,
        }

    formatters = {"stdout": formatter(log_format)}
    handlers: dict[str, dict[str, Any]] = {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "stdout",
        },
        "null": {"class": "logging.NullHandler"},
    }
    if log_file:
        # Files are for machines: always JSON. One file per process (rotation is
        # not shared between processes); use stdout when several workers run.
        formatters["file"] = formatter("json")
        handlers["file"] = {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": log_file,
            "maxBytes": LOG_FILE_MAX_BYTES,
            "backupCount": LOG_FILE_BACKUPS,
            "encoding": "utf-8",
            "formatter": "file",
        }
    root_handlers = ["stdout", *(["file"] if log_file else [])]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "unhandled_errors_only": {"()": f"{__name__}.UnhandledErrorsOnly"},
            "received_task_fields": {"()": f"{__name__}.ReceivedTaskFields"},
            "finished_task_times": {"()": f"{_PACKAGE}.task_timing.FinishedTaskTimes"},
        },
        "formatters": formatters,
        "handlers": handlers,
        "root": {"level": level, "handlers": root_handlers},
        "loggers": {
            # Django's defaults add a console handler and e-mails to ADMINS (with
            # the request's headers): everything goes to the root handlers instead.
            "django": {"handlers": [], "propagate": True},
            "django.request": {"filters": ["unhandled_errors_only"]},
            # runserver's and gunicorn's access lines: the middleware writes ours.
            "django.server": {"handlers": ["null"], "propagate": False},
            "gunicorn.access": {"handlers": ["null"], "propagate": False},
            "gunicorn.error": {"handlers": [], "propagate": True},
            "celery.worker.strategy": {"filters": ["received_task_fields"]},
            "celery.app.trace": {"filters": ["finished_task_times"]},
            # billiard (Celery's pool) logs to "multiprocessing" with propagation off: with
            # no handler of its own, "Process ... exited with signal 9" went to stderr as
            # plain text through logging's last-resort handler. Its INFO lines are one per
            # pool process start: left out.
            "multiprocessing": {
                "level": "WARNING",
                "handlers": root_handlers,
                "propagate": False,
            },
        },
    }


def configure_structlog() -> None:
    """structlog loggers hand their event dict to the standard library's handlers.

    All processing happens once, in the handlers' formatter; the standard
    library's loggers filter by level (LOGGING), so the bound logger doesn't.
    """
    structlog.configure(
        processors=[ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        cache_logger_on_first_use=True,
    )


def add_root_handler(handler: logging.Handler) -> None:
    """Put `handler` on the root logger, beside LOGGING's, for the rest of the process."""
    if handler not in _extra_root_handlers:
        _extra_root_handlers.append(handler)
    logging.getLogger().addHandler(handler)


def configure_logging(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG: structlog, then the standard library from LOGGING."""
    configure_structlog()
    logging.config.dictConfig(config)
    for handler in _extra_root_handlers:
        logging.getLogger().addHandler(handler)
    # Python warnings become log records too, instead of raw lines on stderr.
    logging.captureWarnings(True)
    # Caller frame, thread and process of every record: nothing here renders them.
    skip_unrendered_record_attributes()
