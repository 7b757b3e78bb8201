"""Settings for a developer's machine: debug on, console logs, no services required."""

from .base import *  # noqa: F403
from .base import ENVIRONMENT, LOG_FILE, LOG_LEVEL, RELEASE_VERSION, build_logging, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-local-development-only")
if not env("EMAIL_URL", default=""):
    # Print e-mails instead of sending them until an EMAIL_URL is set.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Readable log lines unless LOG_FORMAT says otherwise.
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOGGING = build_logging(
    level=LOG_LEVEL,
    log_format=LOG_FORMAT,
    log_file=LOG_FILE,
    environment=ENVIRONMENT,
    release=RELEASE_VERSION,
)
