{%- if cookiecutter.use_sentry == "y" -%}
"""Spans and tags for the steps of your own code, reported to Sentry.

    tag("order_id", str(order.pk))
    with span("http.client", "Charge payment", amount=str(order.amount)):
        charge_order(order)

A span is a child of the transaction that runs (the request's, or the task's: the
Celery integration opens one per task), so the trace shows where the time went. On
sentry-sdk 3.x the transaction is the trace's segment span and `data` its attributes
(sentry/_sdk_compat.py).
Code calls these rather than sentry_sdk, so it reads the same in a project generated
without Sentry, whose tracing.py has the same functions doing nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import sentry_sdk

from .sentry._sdk_compat import set_trace_tag, start_span


def span(op: str, name: str, **data: object) -> AbstractContextManager[object]:
    """A child span of the current transaction carrying `data`, to use with `with`."""
    return start_span(op, name, data)


def tag(name: str, value: str) -> None:
    """Tag the current request's or task's events and transaction."""
    set_trace_tag(sentry_sdk.get_isolation_scope(), name, value)
{%- else -%}
"""Spans and tags for the steps of your own code: this project records neither.

    tag("order_id", str(order.pk))
    with span("http.client", "Charge payment", amount=str(order.amount)):
        charge_order(order)

Code marks its steps with these so that a tracer, if one is added, is wired here
only: the calls stay as they are.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext


def span(op: str, name: str, **data: object) -> AbstractContextManager[None]:
    """A context manager that records nothing."""
    return nullcontext()


def tag(name: str, value: str) -> None:
    """Records nothing."""
{%- endif %}
