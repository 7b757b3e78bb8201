from django.urls import path

from . import health

urlpatterns = [
    path("health/live/", health.liveness, name="health-live"),
]
