"""Instructions per call of each piece trace ids add to the access line (BENCHMARKS.md).

Run by hand, in a render of a revision with trace ids (its folder on PYTHONPATH), under
callgrind as bench_trace_ids.py runs its driver:

    PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=ffi_call --dump-after=ffi_call --callgrind-out-file=pieces.out \\
        VENV/bin/python _trace_id_pieces.py 2000

It prints the pieces' names in the order of the profile parts (pieces.out.1, ...);
each part's `summary:` divided by N is one call's instructions, the "empty" part's
being the loop's own. No Django set-up: the pieces need none.
"""

from __future__ import annotations

import ctypes
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
