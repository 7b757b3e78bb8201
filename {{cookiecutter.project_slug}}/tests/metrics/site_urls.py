"""The project's URLs plus a view that fails (500) and one slower than the latency SLO."""

import time

from django.http import HttpRequest, HttpResponse
from django.urls import path

from ..support import error_urls

SLO_SECONDS = 0.5  # deploy/monitoring/prometheus-rules.yaml: LatencySLOBurn


def slower_than_the_slo(request: HttpRequest) -> HttpResponse:
    time.sleep(SLO_SECONDS + 0.1)
    return HttpResponse("late")


urlpatterns = [path("late/", slower_than_the_slo), *error_urls.urlpatterns]
