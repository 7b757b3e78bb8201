"""Settings for a developer's machine: debug on, console logs, no services required.

Chosen by the `.env` the generator wrote (config/boot.py). They refuse to start
under a deployed ENVIRONMENT, so a stray `.env` on a server cannot turn DEBUG on.
"""

from django.core.exceptions import ImproperlyConfigured

from config.boot import read_env_file

read_env_file()

from .base import *  # noqa: E402, F403
from .base import ENVIRONMENT, env, logging_setting  # noqa: E402

if ENVIRONMENT != "development":
    raise ImproperlyConfigured(
        f"config.settings.local is for a developer's machine, but ENVIRONMENT is "
        f"{ENVIRONMENT!r}: use config.settings.production (the default when neither "
        "DJANGO_SETTINGS_MODULE nor a .env file names another)."
    )

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-local-development-only")
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOGGING = logging_setting(ENVIRONMENT, LOG_FORMAT)
if not env("EMAIL_URL", default=""):
    # Print e-mails instead of sending them until an EMAIL_URL is set.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
