from django.urls import path

from . import webhooks

urlpatterns = [
    path("webhooks/sentry/", webhooks.sentry_webhook, name="sentry-webhook"),
]
