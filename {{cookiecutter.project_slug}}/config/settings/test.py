"""Settings for the test suite: fast hashing, in-memory e-mail, eager Celery by default."""

from config.boot import read_env_file

read_env_file()

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-secret-key-not-for-production")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the apps, as DEBUG does; tests don't run collectstatic.
WHITENOISE_AUTOREFRESH = True
# Tests that need a real worker switch this off for themselves (and for the worker).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# Tasks a test worker publishes stay on that worker's queue (tests/conftest.py).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Redis hands back unacknowledged messages on every restore pass (10 s), not every tenth:
# the delivery tests kill a worker and wait for its acks_late task to come back.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "unacked_restore_throttle": 1,
}
{%- if cookiecutter.use_sentry == "y" %}
# Alert delivery retries within a test's patience.
ALERT_HTTP_TIMEOUT = env.float("ALERT_HTTP_TIMEOUT", default=2.0)
ALERT_MAX_TRIES = 3
ALERT_RETRY_BACKOFF = 0.05
ALERT_RETRY_BACKOFF_MAX = 0.2
ALERT_QUEUE_PREFIX = env("ALERT_QUEUE_PREFIX", default=f"{CELERY_TASK_DEFAULT_QUEUE}-alerts.")
ALERT_SWEEP_GRACE = env.float("ALERT_SWEEP_GRACE", default=0.5)
# No beat runs in the tests: the ones about the outbox call its sweep themselves.
CELERY_BEAT_SCHEDULE = {}
{%- endif %}
