"""The monitoring app's metrics, and the functions other modules call to record them.

Under gunicorn and in Celery workers PROMETHEUS_MULTIPROC_DIR is set before this module is
imported (gunicorn.conf.py, config/celery_app.py): each process then writes its samples to
files in that folder and a scrape adds them up. Label values come from short, fixed lists
or from route patterns and task names, never from user input, so series stay bounded.
Other apps' metrics follow the same rules (check_choice for their label values).
"""

from prometheus_client import Counter, Gauge, Histogram

# HTTP ---------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route pattern and status class (2xx..5xx).",
    ["method", "route", "status_class"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request entering the middleware to the response leaving it.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_REQUESTS_IN_FLIGHT = Gauge(
    "http_requests_in_flight",
    "Requests being handled right now.",
    multiprocess_mode="livesum",
)

# Health checks ------------------------------------------------------------------------
HEALTH_STATUSES = ("ok", "warning", "error")
HEALTH_CHECK_STATUS = Gauge(
    "health_check_status",
    "1 for the status a health check last reported, 0 for its other statuses.",
    ["check", "status"],
    multiprocess_mode="mostrecent",
)
HEALTH_CHECK_DURATION = Histogram(
    "health_check_duration_seconds",
    "How long each health check took.",
    ["check"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# Celery -------------------------------------------------------------------------------
CELERY_TASKS = Counter(
    "celery_tasks_total",
    "Task executions by task name and state (started, succeeded, failed, retried, ...).",
    ["task", "state"],
)
CELERY_TASK_RUNTIME = Histogram(
    "celery_task_runtime_seconds",
    "Time a task body ran, whatever its outcome.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
CELERY_TASK_QUEUE_WAIT = Histogram(
    "celery_task_queue_wait_seconds",
    "Time from a task's publish (or its ETA) to its start (monitoring/task_timing.py).",
    ["task", "queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
CELERY_TASKS_IN_FLIGHT = Gauge(
    "celery_tasks_in_flight",
    "Tasks running right now, per worker process tree.",
    multiprocess_mode="livesum",
)
CELERY_MISSED_BEATS = Counter(
    "celery_beat_missed_total",
    "Runs of periodic tasks not started within the grace after they were due (missed_beats.py).",
    ["entry"],
)
CELERY_STUCK_TASKS = Counter(
    "celery_stuck_tasks_total",
    "Tasks reported as running far past their expected time (monitoring/stuck_tasks.py).",
    ["task"],
)


def check_choice(kind: str, value: str, allowed: tuple[str, ...]) -> None:
    """Refuse a label value outside `allowed`: each label keeps a short, fixed set of values."""
    if value not in allowed:
        raise ValueError(f"{kind} {value!r} is not one of: {', '.join(allowed)}.")


def observe_health_check(name: str, status: str, duration_s: float) -> None:
    """Record one run of the health check `name` ("ok", "warning" or "error")."""
    check_choice("health check status", status, HEALTH_STATUSES)
    if not name:
        raise ValueError("health check name must not be empty.")
    for candidate in HEALTH_STATUSES:
        HEALTH_CHECK_STATUS.labels(name, candidate).set(1 if candidate == status else 0)
    HEALTH_CHECK_DURATION.labels(name).observe(max(duration_s, 0.0))
