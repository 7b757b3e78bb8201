"""ASGI entry point, for servers such as uvicorn or daphne."""

from django.core.asgi import get_asgi_application

from config.boot import use_default_settings

use_default_settings()

application = get_asgi_application()
