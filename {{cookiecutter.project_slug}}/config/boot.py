"""Which settings a process runs with when DJANGO_SETTINGS_MODULE is not set.

Every entry point (manage.py, wsgi.py, asgi.py, celery_app.py, gunicorn.conf.py)
calls use_default_settings() before Django loads. The default is production, so a
server started with only the documented variables never runs with DEBUG on: it
either starts in production or refuses to, naming what is missing.

A developer's machine says otherwise in its `.env` file: the post-generation hook
wrote `DJANGO_SETTINGS_MODULE=config.settings.local` there, and `.env` never leaves
the machine (git and .dockerignore ignore it; production does not read it). Local
settings in turn refuse to start where they look deployed (config/settings/local.py).
"""

import os
import re
from pathlib import Path

import environ

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = PROJECT_DIR / ".env"
PRODUCTION_SETTINGS = "config.settings.production"
_SETTINGS_LINE = re.compile(
    r"""^\s*(?:export\s+)?DJANGO_SETTINGS_MODULE\s*=\s*["']?([\w.]+)["']?\s*$""", re.MULTILINE
)


def use_default_settings() -> str:
    """Set DJANGO_SETTINGS_MODULE unless the environment has; return the module used."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or _env_file_settings() or PRODUCTION_SETTINGS
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    return module


def read_env_file() -> None:
    """Load `.env` into the environment; variables already set win over the file.

    Called by the local and test settings only, before they read anything.
    """
    if ENV_FILE.is_file():
        environ.Env.read_env(ENV_FILE)


def _env_file_settings() -> str:
    """The settings module `.env` names, or "" (no file, or no such line)."""
    try:
        text = ENV_FILE.read_text()
    except OSError:
        return ""
    match = _SETTINGS_LINE.search(text)
    return match.group(1) if match else ""
