"""WSGI entry point: `gunicorn -c gunicorn.conf.py config.wsgi`."""

from django.core.wsgi import get_wsgi_application

from config.boot import use_default_settings

use_default_settings()

application = get_wsgi_application()
