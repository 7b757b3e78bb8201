"""A URLconf without /health/db/, for the probe middleware tests."""

from django.urls import path

from {{ cookiecutter.project_slug }}.monitoring.health import views

urlpatterns = [
    path("health/live/", views.liveness, name="health-live"),
]
