from django.urls import path

from .health import views as health

urlpatterns = [
    path("health/", health.health, name="health"),
    path("health/ready/", health.readiness, name="health-ready"),
    path("health/live/", health.liveness, name="health-live"),
    path("health/db/", health.database_details, name="health-db"),
]
