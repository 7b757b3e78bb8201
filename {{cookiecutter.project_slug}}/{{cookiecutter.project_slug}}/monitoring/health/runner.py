"""Run checks concurrently under one deadline, in a small bounded thread pool.

Each check is called with the seconds left before the deadline. A check that misses
the deadline (still running, or done only after it) is reported as an error while
the answer goes out on time. Its thread is not killed (Python can't): client
timeouts (settings) bound how long it stays busy, and a check still in flight is
joined by the next request instead of started again, so a hung dependency holds at
most one thread per check.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections
from django.utils.module_loading import import_string
from redis.exceptions import TimeoutError as RedisTimeoutError

from .result import Result, Status, error

logger = logging.getLogger(__package__)
T = TypeVar("T")
# redis-py's timeout is not the built-in one.
TIMEOUT_ERRORS = (TimeoutError, RedisTimeoutError)

_lock = threading.Lock()
# key -> the run in flight: a check's _Run, or what another caller of submit() returns.
_inflight: dict[str, "Future[Any]"] = {}
_executor: ThreadPoolExecutor | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    message: str
    duration_ms: float


@dataclass(frozen=True, slots=True)
class _Run:
    result: Result
    duration_ms: float
    failure: BaseException | None = None
    finished: float = 0.0  # time.monotonic() when the check returned or raised


def run_checks(names: Iterable[str], timeout: float) -> dict[str, Outcome]:
    """Run the named checks of settings.HEALTH_CHECKS; never raises, never overruns `timeout`."""
    started = time.monotonic()
    deadline = started + timeout
    futures = {name: submit(f"check:{name}", partial(_execute, name), deadline) for name in names}
    wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
    warning_only = set(settings.HEALTH_WARNING_ONLY_CHECKS)
    outcomes = {}
    for name, future in futures.items():
        outcome = _outcome(name, future, timeout, started)
        if outcome.status == "error" and name in warning_only:
            outcome = Outcome("warning", outcome.message, outcome.duration_ms)
        outcomes[name] = outcome
        # Imported per run: probes come seconds apart, and settings may change in tests.
        for path in settings.HEALTH_CHECK_OBSERVERS:
            import_string(path)(name, outcome.status, outcome.duration_ms / 1000)
    return outcomes


def call(key: str, func: Callable[[float], T], timeout: float) -> T:
    """func(seconds_left) in the pool; raises TimeoutError past `timeout`, or func's error."""
    deadline = time.monotonic() + timeout
    return submit(key, func, deadline).result(timeout=max(0.0, deadline - time.monotonic()))


def submit(key: str, func: Callable[[float], T], deadline: float) -> "Future[T]":
    """Start func in the pool, or join the run of the same key that is still in flight."""
    with _lock:
        future = _inflight.get(key)
        if future is None or future.done():
            future = _pool().submit(_call_before, func, deadline)
            _inflight[key] = future
        return future


def _pool() -> ThreadPoolExecutor:
    global _executor  # created lazily: after gunicorn forks its workers
    if _executor is None:
        # One run per key at a time: every check, plus /health/db/, fits at once.
        workers = len(settings.HEALTH_CHECKS) + 1
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="health")
    return _executor


def _call_before(func: Callable[[float], T], deadline: float) -> T:
    try:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the deadline passed before the check started")
        return func(remaining)
    finally:
        # Each pool thread has its own database connections: never leave them open.
        connections.close_all()


def _execute(name: str, seconds_left: float) -> _Run:
    start = time.perf_counter()
    try:
        result = import_string(settings.HEALTH_CHECKS[name])(seconds_left)
        if not isinstance(result, Result):
            raise TypeError(f"check returned {result!r}, not a Result")
        failure = None
    except Exception as exc:  # a check's failure is its answer
        result, failure = error(_failure_message(exc, time.perf_counter() - start)), exc
    duration_ms = round((time.perf_counter() - start) * 1000, 1)
    return _Run(result, duration_ms, failure, finished=time.monotonic())


def _failure_message(exc: Exception, seconds: float) -> str:
    """The body's word for a check that raised (its real error goes to the log only).

    A client that gave up on its own timeout (the cache's, REDIS_SOCKET_TIMEOUT, is
    shorter than the deadline) timed out, as a check that missed the deadline did.
    """
    if isinstance(exc, TIMEOUT_ERRORS):
        return f"timed out after {seconds:.2g} s"
    return "check failed"


def _outcome(name: str, future: "Future[_Run]", timeout: float, started: float) -> Outcome:
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    run = _run_on_time(future, started + timeout, elapsed_ms)
    if run is None:
        logger.warning(
            "Health check %s missed the %g s deadline",
            name,
            timeout,
            extra={"check": name, "duration_ms": elapsed_ms},
        )
        return Outcome("error", f"timed out after {timeout:g} s", elapsed_ms)
    if run.failure is not None:
        # The real error goes to the log only (_failure_message).
        logger.warning(
            "Health check %s failed: %s: %s",
            name,
            type(run.failure).__name__,
            run.failure,
            extra={"check": name, "duration_ms": run.duration_ms},
        )
    return Outcome(run.result.status, run.result.message, run.duration_ms)


def _run_on_time(future: "Future[_Run]", deadline: float, elapsed_ms: float) -> _Run | None:
    """The check's run, or None when it missed the deadline.

    Missed: still running, not started before the deadline, or done only after it
    (between the end of the wait and now), as a client whose socket timeout was the
    time left is when its dependency hangs.
    """
    if not future.done():
        return None
    failure = future.exception(timeout=0)
    if isinstance(failure, TimeoutError):
        return None
    if failure is not None:  # raised around the check, not by it (the check's own is caught)
        return _Run(error("check failed"), elapsed_ms, failure)
    run = future.result()
    return run if run.finished <= deadline else None
