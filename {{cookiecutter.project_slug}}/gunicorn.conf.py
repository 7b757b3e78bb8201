"""gunicorn settings: `gunicorn -c gunicorn.conf.py config.wsgi`.

Logging: gunicorn's own messages (boot, worker exits, timeouts) go through the
project's pipeline (monitoring/logs.py), so with LOG_FORMAT=json every line
gunicorn and the app write is one JSON object on stdout. gunicorn's access log
is off: RequestContextMiddleware writes the one access line per request, with
the request id and the duration seen by Django; a second line from gunicorn
would double the log volume and could not carry the request id.
"""

import os

from gunicorn.glogging import Logger

from {{ cookiecutter.project_slug }} import __version__
from {{ cookiecutter.project_slug }}.monitoring.logs import build_logging

wsgi_app = "config.wsgi:application"

logconfig_dict = build_logging(
    level=os.environ.get("LOG_LEVEL", "INFO"),
    log_format=os.environ.get("LOG_FORMAT", "json"),
    log_file=os.environ.get("LOG_FILE", ""),
    environment=os.environ.get("ENVIRONMENT", "development"),
    release=os.environ.get("RELEASE_VERSION") or __version__,
)


class NoAccessLogLogger(Logger):
    """gunicorn's logger without the access log (see above)."""

    access_log_enabled = False

    def access(self, resp, req, environ, request_time) -> None:
        return None


logger_class = NoAccessLogLogger
