"""Sentry error and performance monitoring (docs/sentry.md), one module per job:

- startup: init_sentry() starts the SDK, once per process;
- options: what it starts with, read from settings;
- filters: what it sends (no probes; request and task id tags; redacted events);
- capture: reporting from your own code, with tags, context and the user's id.
"""

from .capture import add_breadcrumb, capture_exception, capture_message
from .startup import init_sentry

__all__ = ["add_breadcrumb", "capture_exception", "capture_message", "init_sentry"]
