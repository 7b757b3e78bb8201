"""Celery's side of logging: request ids travel with tasks; Django's logging stays.

Imported by config/celery_app.py, which connects these receivers in every
process that uses the Celery app (web, worker, beat).

- before_task_publish: the request id bound where the task is sent from (a web
  request or another task) goes into the message headers;
- task_prerun: the task's logs get task_id, task_name and that request id;
- task_postrun: the task's context is removed again;
- setup_logging: answering it stops Celery from installing its own handlers
  and formats, so the worker and beat log through LOGGING (logs.py);
- celeryd_init: with JSON logs the worker skips its start banner (a print, not
  a log record), as `--quiet` does. `celery beat` prints one too: run it with
  `celery -A config.celery_app --quiet beat`;
- worker_ready / worker_shutting_down: with JSON logs, the notice Celery prints
  on SIGTERM or SIGQUIT ("worker: Warm shutdown (MainProcess)") becomes a log
  record.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.signals import (
    before_task_publish,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_ready,
    worker_shutting_down,
)
from structlog.contextvars import bind_contextvars, clear_contextvars, reset_contextvars

from .context import (
    REQUEST_ID_KEY,
    TASK_ID_KEY,
    TASK_NAME_KEY,
    current_request_id,
    valid_request_id,
)

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "request_id"
# Where task_prerun keeps what task_postrun restores, on the task's request.
_TOKENS_ATTRIBUTE = "log_context_tokens"


@setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    """Apply LOGGING (worker and beat may not have set Django up yet)."""
    from django.conf import settings

    from .logs import configure_logging

    configure_logging(settings.LOGGING)


@celeryd_init.connect
def skip_banner_with_json_logs(instance: Any, **kwargs: Any) -> None:
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        instance.quiet = True


@worker_ready.connect
def quiet_shutdown_notices(sender: Any, **kwargs: Any) -> None:
    """Install Celery's SIGTERM/SIGQUIT handlers again, without their print.

    They are installed after every start-up signal but this one (sent by the
    main process, where signal handlers live); log_shutdown says it instead.
    """
    from celery.apps.worker import install_worker_term_handler, install_worker_term_hard_handler
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        install_worker_term_handler(sender.controller, verbose=False)
        install_worker_term_hard_handler(sender.controller, verbose=False)


@worker_shutting_down.connect
def log_shutdown(sig: str, how: str, exitcode: int, **kwargs: Any) -> None:
    logger.info(
        "worker: %s shutdown",
        how.lower(),
        extra={"signal": sig, "exitcode": exitcode},
    )


@before_task_publish.connect
def send_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = current_request_id()
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@task_prerun.connect
def bind_task_context(task_id: str, task: Task, **kwargs: Any) -> None:
    request = task.request
    if not request.is_eager:
        # A worker runs one task after another in the same context: start clean.
        clear_contextvars()
    context = {TASK_ID_KEY: task_id, TASK_NAME_KEY: task.name}
    request_id = valid_request_id(getattr(request, REQUEST_ID_HEADER, None))
    if request_id:
        context[REQUEST_ID_KEY] = request_id
    setattr(request, _TOKENS_ATTRIBUTE, bind_contextvars(**context))


@task_postrun.connect
def unbind_task_context(task: Task, **kwargs: Any) -> None:
    # Restores what was bound before the task: nothing in a worker, the web
    # request's context when the task ran eagerly inside it.
    tokens = getattr(task.request, _TOKENS_ATTRIBUTE, None)
    if tokens:
        reset_contextvars(**tokens)
