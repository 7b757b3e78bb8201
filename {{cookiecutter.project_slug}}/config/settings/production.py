"""Production settings: every secret and service comes from the environment.

The default of every entry point (config/boot.py); `.env` is never read here. The
process refuses to start, naming what is missing, when a required variable is unset
or the secret key is a placeholder; `manage.py check --deploy --fail-level WARNING`
passes with these.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOG_FORMAT, _env_int, env, logging_setting, read_environment

REQUIRED_VARIABLES = ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL")
_missing = [name for name in REQUIRED_VARIABLES if not env.str(name, default="")]
if _missing:
    raise ImproperlyConfigured(
        f"Production settings need these environment variables: {', '.join(_missing)}."
    )


def weak_secret_key(key: str) -> str:
    """Why `key` must not sign production sessions, or "" when it may.

    The rules of Django's own deploy check (security.W009), plus the placeholder
    that deploy/ and .env.example show: refused at start-up, not only by `check`.
    """
    if "change-me" in key.lower() or key.startswith("django-insecure-"):
        return "it is a placeholder"
    if len(key) < 50 or len(set(key)) < 5:
        return "it is shorter than 50 characters or has fewer than 5 different ones"
    return ""


SECRET_KEY = env("DJANGO_SECRET_KEY")
if _weakness := weak_secret_key(SECRET_KEY):
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is not fit for production: {_weakness}. Generate one with "
        'python -c "import secrets; print(secrets.token_urlsafe(50))".'
    )
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# What this deploy is called in logs{% if cookiecutter.use_sentry == "y" %}, /health/ and error reports{% else %} and /health/{% endif %}: production unless told.
ENVIRONMENT = read_environment(default="production")
LOGGING = logging_setting(ENVIRONMENT, LOG_FORMAT)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=["{{ cookiecutter.domain_name }}"],
)
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    default=["https://{{ cookiecutter.domain_name }}"],
)

# SECURITY: TLS is terminated by the load balancer, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health probes{% if cookiecutter.use_prometheus == "y" %} and Prometheus{% endif %} talk plain HTTP to the app itself; a redirect
# would fail them.
SECURE_REDIRECT_EXEMPT = [
    r"^health/",
{%- if cookiecutter.use_prometheus == "y" %}
    r"^metrics$",
{%- endif %}
]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# HSTS: browsers refuse plain http for the site for max-age seconds, with no way to undo it
# for the visitors who saw it. Start short (60 s), then raise it in steps (an hour, a day,
# a week, a year: docs/deploy.md) once https works on every page and, with the
# subdomains flag, on every subdomain. Preload lists accept only a year or more.
SECURE_HSTS_SECONDS = _env_int("DJANGO_SECURE_HSTS_SECONDS", 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
{%- if cookiecutter.use_prometheus == "y" %}

# Prometheus reaches each worker's exporter from outside the host or pod; it answers
# only METRICS_ALLOWED_NETWORKS (docs/metrics.md).
METRICS_WORKER_ADDRESS = env("METRICS_WORKER_ADDRESS", default="0.0.0.0")  # noqa: S104
{%- endif %}
