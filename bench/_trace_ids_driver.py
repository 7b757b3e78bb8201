"""One render's access line, driven in-process (copied into a render by bench_trace_ids.py).

    python _trace_ids_driver.py N WARMUP RESULT_JSON [--callgrind]

Run from the render's folder with DJANGO_SETTINGS_MODULE=config.settings.bench_trace
(the production settings, ROOT_URLCONF pointing at this module) and stdout going to
the log file: the JSON lines are written there as in production.

Four loops, one after the other (LOOPS), each without and with a `traceparent`:

- middleware: RequestContextMiddleware around the trivial view, called with one
  request made once: the middleware, the formatter and the handler's write, and
  nothing of Django's request handling.
- wsgi: Django's WSGI handler, with every middleware the settings list, called as
  gunicorn calls it (a fresh environ and body each time): what a request pays.

Each loop runs WARMUP requests (lazy imports, caches), then N measured ones. With
--callgrind the N run inside libffi's ffi_call (run_inside_ffi_call), which valgrind
collects alone and dumps on leaving (one profile per loop, after a first one of
N=0 that shows what the wrapping itself costs); otherwise wall and CPU time are taken.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.urls import path

BENCH_PATH = "/bench/"
# The W3C Trace Context specification's own example.
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
MIDDLEWARE_NAME = "RequestContextMiddleware"


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path(BENCH_PATH.strip("/") + "/", hello)]


def headers(traceparent: bool) -> dict[str, str]:
    """The request's headers in WSGI form (as gunicorn puts them in the environ)."""
    return {"HTTP_TRACEPARENT": TRACEPARENT} if traceparent else {}


def middleware_loop(traceparent: bool) -> Callable[[int], None]:
    from django.conf import settings
    from django.test import RequestFactory
    from django.utils.module_loading import import_string

    name = next(m for m in settings.MIDDLEWARE if m.endswith("." + MIDDLEWARE_NAME))
    middleware = import_string(name)(hello)
    request = RequestFactory().get(BENCH_PATH, **headers(traceparent))

    def run(count: int) -> None:
        for _ in range(count):
            middleware(request)

    return run


def wsgi_loop(traceparent: bool) -> Callable[[int], None]:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": BENCH_PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers(traceparent),
    }
    statuses: list[str] = []

    def start_response(status: str, response_headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    def run(count: int) -> None:
        for _ in range(count):
            body = application({**environ, "wsgi.input": io.BytesIO(b"")}, start_response)
            for _chunk in body:
                pass
            body.close()  # as gunicorn does: Django's request_finished
            if statuses.pop() != "200 OK":
                raise SystemExit(f"GET {BENCH_PATH} did not answer 200 OK")

    return run


LOOP_FACTORIES = {"middleware": middleware_loop, "wsgi": wsgi_loop}
LOOPS = [(mode, traceparent) for mode in LOOP_FACTORIES for traceparent in (False, True)]


def run_inside_ffi_call(run: Callable[[int], None], count: int) -> None:
    """run(count), called from C through libffi's ffi_call.

    Python code has no symbol valgrind can toggle collection on; a ctypes callback
    called from Python goes through ffi_call (libffi's public entry point), which
    nothing else in a Django request calls. bench_trace_ids.py checks that a run with
    count=0 collects next to nothing, so a libffi or ctypes change that breaks this
    shows as an error, not as a wrong figure.
    """
    failures: list[BaseException] = []

    def body() -> None:
        try:
            run(count)
        except BaseException as error:  # ctypes would print it and go on
            failures.append(error)

    ctypes.CFUNCTYPE(None)(body)()
    if failures:
        raise failures[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("warmup", type=int)
    parser.add_argument("result", type=Path)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    results: list[dict[str, object]] = []
    if args.callgrind:
        # The first profile: the wrapping alone, checked by bench_trace_ids.py.
        run_inside_ffi_call(middleware_loop(False), 0)
    for mode, traceparent in LOOPS:
        run = LOOP_FACTORIES[mode](traceparent)
        run(args.warmup)
        result: dict[str, object] = {"mode": mode, "traceparent": traceparent}
        if args.callgrind:
            run_inside_ffi_call(run, args.count)
        else:
            wall, cpu = time.perf_counter(), time.process_time()
            run(args.count)
            result |= {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
        results.append(result)
    sys.stdout.flush()
    args.result.write_text(json.dumps({"count": args.count, "loops": results}))


if __name__ == "__main__":
    main()
