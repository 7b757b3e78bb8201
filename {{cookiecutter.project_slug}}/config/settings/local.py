"""Settings for a developer's machine: debug on, console logs, no services required.

Console logs: base.py makes LOG_FORMAT default to console under these settings.
"""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-local-development-only")
if not env("EMAIL_URL", default=""):
    # Print e-mails instead of sending them until an EMAIL_URL is set.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
