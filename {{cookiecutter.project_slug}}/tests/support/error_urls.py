"""Test-only URLs: the project's routes plus views that fail or take their time."""

import time

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from structlog.contextvars import bind_contextvars


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("charge failed for customer jane.doe@example.com")


def slow(request: HttpRequest) -> HttpResponse:
    time.sleep(0.05)
    return HttpResponse("done")


def binds(request: HttpRequest) -> HttpResponse:
    """Binds a key of its own, as docs/logging.md suggests (user_id=...)."""
    bind_contextvars(user_id="u-7")
    return HttpResponse("bound")


urlpatterns = [
    path("binds/", binds),
    path("boom/", boom),
    path("slow/", slow),
    path("", include("config.urls")),
]
