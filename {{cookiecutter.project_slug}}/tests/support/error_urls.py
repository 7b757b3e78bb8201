"""Test-only URLs: the project's routes plus views that fail or take their time."""

import time

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("charge failed for customer jane.doe@example.com")


def slow(request: HttpRequest) -> HttpResponse:
    time.sleep(0.05)
    return HttpResponse("done")


urlpatterns = [
    path("boom/", boom),
    path("slow/", slow),
    path("", include("config.urls")),
]
