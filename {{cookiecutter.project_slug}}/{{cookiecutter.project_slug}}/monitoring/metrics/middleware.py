"""Request metrics by route pattern, and the GET /metrics endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram

from .access import AccessPolicy
from .exposition import CeleryQueueLength, render
from .instruments import HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_REQUESTS_IN_FLIGHT

METRICS_PATH = "/metrics"
# Any other method is counted as "other": clients choose methods, labels must stay bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DENIED = {401: "Unauthorized", 403: "Forbidden"}


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request ("/orders/<int:pk>/"), never the raw path."""
    match = request.resolver_match
    return "unmatched" if match is None else f"/{match.route}"


class MetricsMiddleware:
    """Times every request and answers /metrics itself.

    Placed before CommonMiddleware (and anything calling request.get_host()), so a scraper
    addressing the pod IP is served without adding that IP to ALLOWED_HOSTS.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = AccessPolicy.from_settings()
        self.queue_length = CeleryQueueLength()
        # labels() costs microseconds per call: keep the children, bounded like the labels.
        self.series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == METRICS_PATH:
            return self.metrics(request)
        method = request.method if request.method in METHODS else "other"
        start = time.perf_counter()
        HTTP_REQUESTS_IN_FLIGHT.inc()
        try:
            response = self.get_response(request)
        finally:
            HTTP_REQUESTS_IN_FLIGHT.dec()
        elapsed = time.perf_counter() - start
        key = (method, route_of(request), f"{response.status_code // 100}xx")
        series = self.series.get(key)
        if series is None:
            series = (HTTP_REQUESTS.labels(*key), HTTP_REQUEST_DURATION.labels(*key[:2]))
            self.series[key] = series
        series[0].inc()
        series[1].observe(elapsed)
        return response

    def metrics(self, request: HttpRequest) -> HttpResponse:
        status = self.policy.status_for(request.META)
        response: HttpResponse
        if request.method not in ("GET", "HEAD"):
            response = HttpResponseNotAllowed(["GET", "HEAD"])
        elif status != 200:
            response = HttpResponse(DENIED[status], status=status, content_type="text/plain")
            if status == 401:
                response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        else:
            response = HttpResponse(render(self.queue_length), content_type=CONTENT_TYPE_LATEST)
        add_never_cache_headers(response)
        return response
