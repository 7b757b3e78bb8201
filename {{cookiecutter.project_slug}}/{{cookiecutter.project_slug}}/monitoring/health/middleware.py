"""Answer the health endpoints before host validation and the HTTPS redirect.

Kubernetes probes send the pod IP as Host and talk plain HTTP to the pod. Health
views read nothing from the Host header, so this middleware serves them directly;
every other path still goes through SecurityMiddleware / CommonMiddleware, where
ALLOWED_HOSTS answers 400 to unknown hosts. Place it above those two, below only
middleware that never calls request.get_host() (e.g. request IDs and access logs).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, get_resolver

PROBE_URL_NAMES = ("health", "health-ready", "health-live", "health-db")


class HealthProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._views: dict[str, Callable[[HttpRequest], HttpResponse]] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self._probe_views().get(request.path_info)
        if view is None:
            return self.get_response(request)
        response = view(request)
        # The one SecurityMiddleware header that matters for a JSON answer.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    def _probe_views(self) -> dict[str, Callable[[HttpRequest], HttpResponse]]:
        # path_info -> view, looked up once in the URLconf (so the paths stay in urls.py).
        if self._views is None:
            resolver, views = get_resolver(), {}
            for name in PROBE_URL_NAMES:
                try:
                    path = "/" + resolver.reverse(name)
                except NoReverseMatch:  # a route removed from urls.py is simply not a probe
                    continue
                views[path] = resolver.resolve(path).func
            self._views = views
        return self._views
