"""How a Celery worker or beat process starts and stops: our logging, not Celery's.

Receivers, connected by celery_signals.connect_celery_signals():

- setup_logging: answering it stops Celery from installing its own handlers
  and formats, so the worker and beat log through LOGGING (logs.py);
- celeryd_init: with JSON logs the worker skips its start banner (a print, not
  a log record), as `--quiet` does. `celery beat` prints one too: run it with
  `celery -A config.celery_app --quiet beat`;
- celeryd_init / beat_init: without a broker (no REDIS_URL) there is nothing to
  consume or schedule into: the process stops with one sentence;
- worker_ready / worker_shutting_down: with JSON logs, the notice Celery prints
  on SIGTERM or SIGQUIT ("worker: Warm shutdown (MainProcess)") becomes a log
  record;
- celeryd_after_setup: Celery's warning, on every lost broker connection, that
  running tasks are not cancelled is dropped from the log while settings chose not
  to cancel them (CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS, with
  the reason). Sent after the logging set-up and before the consumer connects:
  worker_ready comes only once every consumer step has started, after the
  connection (and the readiness file), so a connection lost in between warned.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from celery.signals import (
    beat_init,
    celeryd_after_setup,
    celeryd_init,
    setup_logging,
    worker_ready,
    worker_shutting_down,
)
from django.conf import settings

from .logs import configure_logging

logger = logging.getLogger(__name__)


def use_django_logging(**kwargs: Any) -> None:
    """Apply LOGGING in place of Celery's handlers."""
    configure_logging(settings.LOGGING)


def skip_banner_with_json_logs(instance: Any, **kwargs: Any) -> None:
    if settings.LOG_FORMAT == "json":
        instance.quiet = True


def refuse_to_run_without_a_broker(**kwargs: Any) -> None:
    """Settings name "no broker" memory://: a queue no other process sees."""
    if current_app.conf.broker_url.startswith("memory://"):
        raise SystemExit(
            "No broker configured: set REDIS_URL (or CELERY_BROKER_URL) to run a Celery "
            "worker or beat; without one, tasks run inline in the process that sends them."
        )


def quiet_shutdown_notices(sender: Any, **kwargs: Any) -> None:
    """Install Celery's SIGTERM/SIGQUIT handlers again, without their print.

    They are installed after every start-up signal but this one (sent by the
    main process, where signal handlers live); log_shutdown says it instead.
    """
    # Module functions of Celery's that celery-types does not declare.
    from celery.apps.worker import (  # type: ignore[attr-defined]
        install_worker_term_handler,
        install_worker_term_hard_handler,
    )

    if settings.LOG_FORMAT == "json":
        install_worker_term_handler(sender.controller, verbose=False)
        install_worker_term_hard_handler(sender.controller, verbose=False)


KEPT_TASKS_WARNING = "worker_cancel_long_running_tasks_on_connection_loss"


def drop_kept_tasks_warning(record: logging.LogRecord) -> bool:
    return KEPT_TASKS_WARNING not in record.getMessage()


def silence_the_kept_tasks_warning(**kwargs: Any) -> None:
    # A filter on the logger that captured warnings go to: Celery's logging set-up turns
    # its own warnings back to "always" in the warnings module, where a filter won't hold.
    if not current_app.conf.worker_cancel_long_running_tasks_on_connection_loss:
        captured = logging.getLogger("py.warnings")
        if drop_kept_tasks_warning not in captured.filters:
            captured.addFilter(drop_kept_tasks_warning)


def log_shutdown(sig: str, how: str, exitcode: int, **kwargs: Any) -> None:
    logger.info(
        "worker: %s shutdown",
        how.lower(),
        extra={"signal": sig, "exitcode": exitcode},
    )


RECEIVERS = (
    (setup_logging, use_django_logging),
    (celeryd_init, skip_banner_with_json_logs),
    (celeryd_init, refuse_to_run_without_a_broker),
    (beat_init, refuse_to_run_without_a_broker),
    (worker_ready, quiet_shutdown_notices),
    (celeryd_after_setup, silence_the_kept_tasks_warning),
    (worker_shutting_down, log_shutdown),
)
