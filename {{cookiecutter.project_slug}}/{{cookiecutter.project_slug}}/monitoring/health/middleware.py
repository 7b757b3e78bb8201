"""Answer the health endpoints before host validation and the HTTPS redirect.

Orchestrators' probes send the pod's IP as Host and talk plain HTTP to it. Health
views read nothing from the Host header, so this middleware serves them directly;
every other path still goes through SecurityMiddleware / CommonMiddleware, where
ALLOWED_HOSTS answers 400 to unknown hosts. Place it above those two, below only
middleware that never calls request.get_host() (e.g. request IDs and access logs).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, ResolverMatch, get_resolver

PROBE_URL_NAMES = ("health", "health-ready", "health-live", "health-db")


class HealthProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._matches: dict[str, ResolverMatch] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = self._probe_matches().get(request.path_info)
        if match is None:
            return self.get_response(request)
        # As Django's handler would, for middleware that reads the matched route.
        request.resolver_match = match
        response: HttpResponse = match.func(request, *match.args, **match.kwargs)
        # The one SecurityMiddleware header that matters for a JSON answer.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    def _probe_matches(self) -> dict[str, ResolverMatch]:
        # path_info -> match, looked up once in the URLconf (so the paths stay in urls.py).
        if self._matches is None:
            resolver, matches = get_resolver(), {}
            for name in PROBE_URL_NAMES:
                try:
                    path = "/" + resolver.reverse(name)
                except NoReverseMatch:  # a route removed from urls.py is simply not a probe
                    continue
                matches[path] = resolver.resolve(path)
            self._matches = matches
        return self._matches
