"""The one place that reads structlog's private hand-over to the standard library.

A structlog logger configured as in logs.configure_structlog ends with
`ProcessorFormatter.wrap_for_formatter` (public): the standard library's logger
gets the event dict as the record's `msg` and, in `extra=`, the structlog logger
and method name, which land on the LogRecord as the private attributes `_logger`
and `_name`. structlog's ProcessorFormatter.format reads them back after copying
the record; logs.StructuredFormatter reads them without that copy, through
`structlog_origin()` below. The middleware's access line is handed over with
`wrap_for_formatter` too, so it takes the same path.

Written against structlog 26.1; 24.4, the oldest this project allows, sets the
same two attributes. If structlog renames them or stops setting them,
`structlog_origin()` returns None for every record: lines stay the same
(StructuredFormatter falls back to ProcessorFormatter.format) but each structlog
line, the access line of every request included, pays for a LogRecord copy
again. The test `test_structlog_hands_records_over_as_the_bridge_reads_them`
(tests/test_logging.py) fails when that happens: fix this module, nothing else
reads those attributes.
"""

from __future__ import annotations

import logging
from typing import Any

from structlog.typing import WrappedLogger


def structlog_origin(record: logging.LogRecord) -> tuple[WrappedLogger, str, dict[str, Any]] | None:
    """(structlog logger, method name, event dict) of a record structlog handed over, or None.

    None for every other record: those of `logging.getLogger(...)` loggers, and
    records whose message is not an event dict.
    """
    attributes = record.__dict__
    method_name = attributes.get("_name")
    if method_name is None or not isinstance(record.msg, dict):
        return None
    return attributes["_logger"], method_name, record.msg
