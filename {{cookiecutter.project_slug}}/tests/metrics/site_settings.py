"""Settings of the gunicorn the real-Prometheus test scrapes: the test settings, on the URLs
of site_urls."""

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "tests.metrics.site_urls"
