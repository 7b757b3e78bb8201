"""Instructions per call of each piece trace ids add to the access line (BENCHMARKS.md).

Run by hand, in a render of a revision with trace ids (its folder on PYTHONPATH), under
callgrind as bench_trace_ids.py runs its driver:

    PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=ffi_call --dump-after=ffi_call --callgrind-out-file=pieces.out \\
        VENV/bin/python _trace_id_pieces.py 2000

It prints the pieces' names in the order of the profile parts (pieces.out.1, ...);
each part's `summary:` divided by N is one call's instructions, the "empty" part's
being the loop's own. No Django set-up: the pieces need none.

In a render that has monitoring/_structlog_context.py (after the 2026-12-03 fixes) it
also counts the middleware's way since: ids set in structlog's variables, cleared with
clear_bound(), the line reading them with bound_context(). Four variables of other
libraries are set first there, as Django, asgiref and the Sentry SDK leave in a
request's context (what the walks of the context go through); every piece of that run
sees them.
"""

from __future__ import annotations

import contextvars
import ctypes
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator

from my_project.monitoring.context import trace_id_or_new
from my_project.monitoring.logs import make_formatter
from structlog.contextvars import bind_contextvars, clear_contextvars
from structlog.stdlib import ProcessorFormatter

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
REQUEST_ID = "6fad8846363c4801bd19360a8e0e57a8"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
# The access line's fields, as RequestContextMiddleware.log_access hands them over.
EVENT = {
    "event": "request",
    "method": "GET",
    "path": "/bench/",
    "status": 200,
    "duration_ms": 0.12,
    "client_ip": "127.0.0.1",
}
access_logger = logging.getLogger("my_project.monitoring.access")
formatter = make_formatter("json", "production", "0.1.0")
NEW_CONTEXT = importlib.util.find_spec("my_project.monitoring._structlog_context") is not None
# What a request's context holds besides structlog's keys (sentry_current_hub,
# isolation_scope, current_scope, asgiref.local in the driver's middleware loop); not
# in the af42b40 render's run, whose figures BENCHMARKS.md gives without them.
for _name in ("other.hub", "other.isolation_scope", "other.current_scope", "other.local"):
    if NEW_CONTEXT:
        contextvars.ContextVar(_name).set(object())


def format_access_line() -> None:
    args, kwargs = ProcessorFormatter.wrap_for_formatter(access_logger, "info", dict(EVENT))
    record = access_logger.makeRecord(
        access_logger.name, logging.INFO, __file__, 0, args[0], (), None, extra=kwargs["extra"]
    )
    formatter.format(record)


def bound(ids: dict[str, str], then: Callable[[], None] = lambda: None) -> Callable[[], None]:
    """Bind *ids* as the middleware does, run *then*, clear them again."""

    def piece() -> None:
        bind_contextvars(**ids)
        then()
        clear_contextvars()

    return piece


def pieces() -> Iterator[tuple[str, Callable[[], object]]]:
    yield "empty", lambda: None
    yield "mint a trace id", lambda: trace_id_or_new(None)
    yield "read a traceparent", lambda: trace_id_or_new(TRACEPARENT)
    yield "bind + clear request_id", bound({"request_id": REQUEST_ID})
    yield "bind + clear both ids", bound({"request_id": REQUEST_ID, "trace_id": TRACE_ID})
    yield "format, request_id bound", bound({"request_id": REQUEST_ID}, format_access_line)
    both = {"request_id": REQUEST_ID, "trace_id": TRACE_ID}
    yield "format, both ids bound", bound(both, format_access_line)
    if NEW_CONTEXT:
        from my_project.monitoring._structlog_context import clear_bound, structlog_var

        request_id, trace_id = structlog_var("request_id"), structlog_var("trace_id")

        def set_ids(*ids: tuple[contextvars.ContextVar[str], str]) -> Callable[[], None]:
            def piece(then: Callable[[], None] = lambda: None) -> None:
                for var, value in ids:
                    var.set(value)
                then()
                clear_bound()

            return piece

        one = set_ids((request_id, REQUEST_ID))
        two = set_ids((request_id, REQUEST_ID), (trace_id, TRACE_ID))
        yield "set + clear_bound, request_id", one
        yield "set + clear_bound, both ids", two
        yield "format, request_id set", lambda: one(format_access_line)
        yield "format, both ids set", lambda: two(format_access_line)


def main() -> None:
    count = int(sys.argv[1])
    names = []
    for name, piece in pieces():
        for _ in range(100):  # warm-up, outside ffi_call: not collected
            piece()

        def loop(piece: Callable[[], object] = piece) -> None:
            for _ in range(count):
                piece()

        ctypes.CFUNCTYPE(None)(loop)()  # collected: see _trace_ids_driver.run_inside_ffi_call
        names.append(name)
    print("\n".join(names))


if __name__ == "__main__":
    main()
