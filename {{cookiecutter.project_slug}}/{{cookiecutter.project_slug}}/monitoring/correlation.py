"""Request and trace ids travel with Celery tasks, into each task's log lines and context.

Receivers, connected by celery_signals.connect_celery_signals():

- before_task_publish: the request id and the trace bound where the task is sent
  from (a web request or another task) go into the message headers, the trace as
  a W3C `traceparent`;
- task_prerun: the task's logs get task_id, task_name, that request id and trace id, and
  the on_context_bound hooks hear of them (context.py), as for a request;
- task_postrun: the task's context is removed again.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import before_task_publish, task_postrun, task_prerun
from structlog.contextvars import bind_contextvars, clear_contextvars, reset_contextvars

from .context import (
    REQUEST_ID_KEY,
    TASK_ID_KEY,
    TASK_NAME_KEY,
    TRACE_ID_KEY,
    context_bound,
    current_request_id,
    current_trace_id,
    trace_id_or_new,
    traceparent_for,
    valid_request_id,
)

REQUEST_ID_HEADER = "request_id"
TRACEPARENT_HEADER = "traceparent"
# Where task_prerun keeps what task_postrun restores, on the task's request.
_TOKENS_ATTRIBUTE = "log_context_tokens"


def send_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is None:
        return
    request_id = current_request_id()
    if request_id:
        headers.setdefault(REQUEST_ID_HEADER, request_id)
    trace_id = current_trace_id()
    if trace_id:
        headers.setdefault(TRACEPARENT_HEADER, traceparent_for(trace_id))


def bind_task_context(task_id: str, task: Task[..., Any], **kwargs: Any) -> None:
    request = task.request
    if not request.is_eager:
        # A worker runs one task after another in the same context: start clean.
        clear_contextvars()
    context = {TASK_ID_KEY: task_id, TASK_NAME_KEY: task.name}
    request_id = valid_request_id(getattr(request, REQUEST_ID_HEADER, None))
    if request_id:
        context[REQUEST_ID_KEY] = request_id
    # A task sent from outside any request (beat, a shell) starts its own trace.
    context[TRACE_ID_KEY] = trace_id_or_new(getattr(request, TRACEPARENT_HEADER, None))
    setattr(request, _TOKENS_ATTRIBUTE, bind_contextvars(**context))
    context_bound()


def unbind_task_context(task: Task[..., Any], **kwargs: Any) -> None:
    # Restores what was bound before the task: nothing in a worker, the web
    # request's context when the task ran eagerly inside it.
    tokens = getattr(task.request, _TOKENS_ATTRIBUTE, None)
    if tokens:
        reset_contextvars(**tokens)


RECEIVERS = (
    (before_task_publish, send_request_id),
    (task_prerun, bind_task_context),
    (task_postrun, unbind_task_context),
)
