"""Request correlation and the one access log line per request.

RequestContextMiddleware goes FIRST in MIDDLEWARE, so it times and tags
everything below it, including the 500 response Django makes of an exception.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from structlog.stdlib import ProcessorFormatter

from ._structlog_context import clear_bound, structlog_var
from .context import (
    REQUEST_ID_KEY,
    TRACE_ID_KEY,
    context_bound,
    new_request_id,
    new_trace_id,
    trace_id_from_traceparent,
    valid_request_id,
)

access_logger = logging.getLogger(f"{__package__}.access")
# The two ids are set in structlog's own variables directly: bind_contextvars(**ids)
# builds its keyword dict, the variables' names and a token per id on every request.
_REQUEST_ID = structlog_var(REQUEST_ID_KEY)
_TRACE_ID = structlog_var(TRACE_ID_KEY)
# The access line goes to the standard library logger directly, handed over as a
# structlog logger would hand it (ProcessorFormatter.wrap_for_formatter, the last
# processor of logs.configure_structlog): same formatter, same output, without a
# structlog logger in between (the bridge reading it back: _structlog_bridge.py).
_METHOD_NAMES = {
    level: logging.getLevelName(level).lower()
    for level in (logging.INFO, logging.WARNING, logging.ERROR)
}


def client_ip(request: HttpRequest, trusted_proxies: int) -> str:
    """The client address, trusting the last *trusted_proxies* hops of X-Forwarded-For.

    Each proxy appends the address it got the connection from, so with N proxies
    in front of us the client is the N-th entry from the right. Anything further
    left was written by the client and can't be trusted; a shorter or malformed
    header means the request did not come through our proxies.
    """
    remote_addr: str = request.META.get("REMOTE_ADDR", "")
    if not trusted_proxies:
        return remote_addr
    hops: list[str] = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(hops) < trusted_proxies:
        return remote_addr
    candidate = hops[-trusted_proxies].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr


class RequestContextMiddleware:
    """Request id, timing headers and the access log line.

    - `X-Request-ID` from the client is kept when it matches the contract's
      pattern and TRUST_REQUEST_ID_HEADER is on, otherwise replaced by a new uuid4
      hex; it is bound in structlog's context variables for every log line (and
      error report) of the request and sent back with `X-Request-Duration`
      (milliseconds). An untrusted valid id is kept as `client_request_id` on the
      access line only.
    - `trace_id` comes from a valid W3C `traceparent` header, or is new; it is
      bound beside the request id and travels with the tasks sent (correlation.py).
    - One access line per request: info below 400, warning below 500, error
      above; a request slower than SLOW_REQUEST_THRESHOLD_MS is a warning with
      `slow: true`. Unhandled exceptions are logged once, with their traceback,
      by Django's `django.request` logger (see logs.py), not here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Read once: settings lookups on every request are measurable. Both are whole
        # numbers >= 0, checked when the settings read them from the environment.
        self.slow_ms: int = settings.SLOW_REQUEST_THRESHOLD_MS
        self.trusted_proxies: int = settings.TRUSTED_PROXY_COUNT
        self.trust_request_id: bool = settings.TRUST_REQUEST_ID_HEADER

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        # Bindings end with the request (finally below), so none are left from the last one.
        incoming_id = valid_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        minted: str | None = None
        if self.trust_request_id and incoming_id:
            request_id, client_request_id = incoming_id, None
        else:
            request_id = minted = new_request_id()
            client_request_id = incoming_id
        # The trace continues the caller's W3C `traceparent`, or starts here. A request id
        # we minted is 32 random hex digits, a valid trace id: reusing it spares minting a
        # second (2 % of the access line's instructions, BENCHMARKS.md). An error
        # tracker's on_context_bound hook may rebind its own trace id.
        trace_id = (
            trace_id_from_traceparent(request.META.get("HTTP_TRACEPARENT"))
            or minted
            or new_trace_id()
        )
        _REQUEST_ID.set(request_id)
        _TRACE_ID.set(trace_id)
        try:
            context_bound()
            response = self.get_response(request)
            duration_ms = round((time.perf_counter() - start) * 1000, 2)
            response["X-Request-ID"] = request_id
            response["X-Request-Duration"] = str(duration_ms)
            self.log_access(request, response.status_code, duration_ms, client_request_id)
            return response
        finally:
            # Everything bound during the request goes: the ids above, a hook's (a
            # tracing SDK's span_id) and the view's own (docs/logging.md).
            clear_bound()

    def log_access(
        self,
        request: HttpRequest,
        status: int,
        duration_ms: float,
        client_request_id: str | None,
    ) -> None:
        slow = duration_ms > self.slow_ms
        if status >= 500:
            level = logging.ERROR
        elif status >= 400 or slow:
            level = logging.WARNING
        else:
            level = logging.INFO
        if not access_logger.isEnabledFor(level):
            return
        event = {
            "event": "slow request" if slow else "request",
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": duration_ms,
            "client_ip": client_ip(request, self.trusted_proxies),
        }
        if slow:
            event["slow"] = True
        if client_request_id:
            # Validated (context.REQUEST_ID_PATTERN): safe to write, never a correlation key.
            event["client_request_id"] = client_request_id
        args, kwargs = ProcessorFormatter.wrap_for_formatter(
            access_logger, _METHOD_NAMES[level], event
        )
        access_logger.log(level, *args, extra=kwargs["extra"])
