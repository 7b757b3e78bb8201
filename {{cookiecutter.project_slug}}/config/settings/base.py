"""Settings shared by every environment; local, test and production build on them.

Every value an operator may change comes from an environment variable (see
.env.example). Without DATABASE_URL / REDIS_URL the project falls back to an
SQLite file, a local-memory cache and eager Celery, so it starts with no services.
A child module overrides what differs for it; this module never asks which child
imported it.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import environ
{%- if cookiecutter.use_sentry == "y" %}
from celery.schedules import crontab
{%- endif %}
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from {{ cookiecutter.project_slug }} import __version__
from {{ cookiecutter.project_slug }}.monitoring.logs import {% if cookiecutter.use_sentry == "y" %}LOG_LEVELS, {% endif %}build_logging
from {{ cookiecutter.project_slug }}.monitoring.redaction import DEFAULT_MASKED_URL_PATHS

BASE_DIR = Path(__file__).resolve().parent.parent.parent
APPS_DIR = BASE_DIR / "{{ cookiecutter.project_slug }}"

env = environ.Env()


def _env_number(name: str, default: float, low: float, high: float) -> float:
    """A float from the environment; a value that is not a number in [low, high] is refused."""
    raw = env.str(name, default=str(default))
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise ImproperlyConfigured(f"{name} is {raw!r}; use a number from {low:g} to {high:g}.")
    return value


def _env_int(name: str, default: int, low: int = 0, high: int | None = None) -> int:
    """An int from the environment; a value that is not a whole number in [low, high] is refused."""
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"from {low} to {high}"
        raise ImproperlyConfigured(f"{name} must be a whole number {allowed}, got {raw!r}.")
    return value


_FLAG_VALUES = {"true": True, "1": True, "yes": True, "on": True}
_FLAG_VALUES |= {"false": False, "0": False, "no": False, "off": False}


def _env_flag(name: str, default: bool) -> bool:
    """A yes/no switch from the environment; only true/false, 1/0, yes/no, on/off are accepted."""
    raw = env.str(name, default=str(default))
    value = _FLAG_VALUES.get(raw.strip().lower())
    if value is None:
        raise ImproperlyConfigured(f"{name} is {raw!r}; use true or false.")
    return value


ENVIRONMENTS = ("development", "staging", "production")


def read_environment(default: str) -> str:
    """ENVIRONMENT, or `default`; a name outside ENVIRONMENTS is refused."""
    name: str = env("ENVIRONMENT", default=default)
    if name not in ENVIRONMENTS:
        choices = ", ".join(ENVIRONMENTS)
        raise ImproperlyConfigured(f"ENVIRONMENT is {name!r}; use one of: {choices}.")
    return name


ENVIRONMENT = read_environment(default="development")
RELEASE_VERSION = env("RELEASE_VERSION", default=__version__)

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
TIME_ZONE = "{{ cookiecutter.timezone }}"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True

# DATABASES / CACHES / CELERY: real services when their URL is set
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = _env_int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that accepts TCP and never answers must not hold a thread forever.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
# Every Redis call a request waits for (cache, task publish) gives up after this long (s),
# connecting and then each reply: a Redis that hangs costs the request an error instead of
# its gunicorn worker, and a caller that waits 1 s at most (a webhook sender) still gets an
# answer. Redis answers in well under a millisecond on a healthy network.
REDIS_SOCKET_TIMEOUT = _env_number("REDIS_SOCKET_TIMEOUT", 0.25, 0.05, 30)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker, tasks run inline in the calling process. "memory://localhost/" names
# that case for Celery: with an empty URL kombu would try amqp://localhost, and with no
# host it warns on every task. A worker or beat without a broker stops with one
# sentence (config/celery_app.py).
NO_BROKER_URL = "memory://localhost/"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL) or NO_BROKER_URL
CELERY_RESULT_BACKEND = REDIS_URL or None
# The result backend's connections too (each thread opens its own on its first publish),
# and one reconnect, not Celery's 20 a second apart, when a publish subscribes to a result.
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == NO_BROKER_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
# The queues a worker started without -Q consumes.{% if cookiecutter.use_sentry == "y" %} Alerting adds one per channel below.{% endif %}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE)]
# Periodic tasks (beat), by entry name; each is also watched for missed runs (below).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
# Delivery (docs/celery.md). By default a task is acknowledged as it starts: a worker killed
# mid-task loses it, so it never runs twice, which is right for a task that is not safe to
# repeat. A task that is idempotent opts in to at-least-once with @shared_task(acks_late=True)
# (ours: process_order{% if cookiecutter.use_sentry == "y" %} and the alerting tasks{% endif %}); it is then acknowledged when it ends, and
# requeued when its process dies (reject_on_worker_lost) or its whole worker does.
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each process reserves one message at a time: a long task never holds others' work back.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task still running after 4 min gets SoftTimeLimitExceeded, after 5 min its process is
# killed; override per task (@shared_task(time_limit=...)) for longer work.
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
# Redis hands a message still unacknowledged after this long (s) to another worker: it must
# exceed the longest task and the longest countdown/ETA you use, or that task runs twice.{% if cookiecutter.use_sentry == "y" %}
# (Alert retries wait up to 15 min; a lost alert delivery comes back through the outbox's
# sweeper within a minute or two, not through this timeout.){% endif %}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _env_int("CELERY_VISIBILITY_TIMEOUT", 3600, 1),
    # Redis broker only (other transports ignore them): see REDIS_SOCKET_TIMEOUT.
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
}
# A publish retries once, at once: that reconnects a pooled connection that a Redis restart
# broke, and keeps a publish to a Redis that hangs within three socket timeouts (0.75 s).
# Without these bounds such a publish waited until gunicorn killed the worker (30 s).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": CELERY_TASK_PUBLISH_RETRY_POLICY}
# A cold shutdown (SIGQUIT, or a second SIGTERM) first gives running tasks this long (s),
# then requeues the acks_late ones instead of dropping them. SIGTERM alone (warm) waits for
# them: the platform's stop timeout bounds it (docs/deploy.md).
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = _env_number(
    "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", 30, 0, 3600
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker that lost its broker reconnects for as long as it takes (Celery gives up and
# exits after 100 tries, about 45 minutes): the probes tell it waiting (alive, not ready)
# from dead, and it consumes again as soon as Redis is back.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Tasks running when the broker connection drops keep running (Celery 6 will cancel them by
# default; monitoring/celery_process.py silences Celery's warning about it). Cancelling
# would stop an acks_late task half-way on every blip; letting it finish is safe: its
# message comes back after the visibility timeout and an idempotent task finds its work
# done{% if cookiecutter.use_sentry == "y" %} (an alert delivery finds its outbox row sent){% endif %}.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Our logging configuration owns the root logger, in workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task events (several broker messages per task) feed Flower or an events-based exporter.
# The project's own logs{% if cookiecutter.use_prometheus == "y" %} and metrics{% endif %} come from signals, so they stay off unless you run
# one of those: CELERY_TASK_EVENTS=true (docs/celery.md has what they cost).
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_TASK_EVENTS", default=False)
CELERY_TASK_SEND_SENT_EVENT = CELERY_WORKER_SEND_TASK_EVENTS
# Liveness and readiness files of the worker and beat (monitoring/celery_probes.py), read
# by scripts/celery_probe.sh, which defaults to the same folder: one per user, so another
# account cannot plant them. Celery ignores both names.
CELERY_PROBE_DIR = env(
    "CELERY_PROBE_DIR", default=str(Path(tempfile.gettempdir()) / f"celery-probes-{os.getuid()}")
)
CELERY_PROBE_INTERVAL = _env_number("CELERY_PROBE_INTERVAL", 5, 0.05, 60)
# Beat sleeps until its next entry is due, up to 5 minutes by default; a tick every 10 s
# costs nothing and keeps beat.alive fresh for a 60 s probe.
CELERY_BEAT_MAX_LOOP_INTERVAL = _env_number("CELERY_BEAT_MAX_LOOP_INTERVAL", 10, 0.05, 300)
# A running task is reported once as stuck (monitoring/stuck_tasks.py) past its
# expected_runtime x this factor, or else past its soft time limit; checked this often (s).
CELERY_STUCK_TASK_FACTOR = _env_number("CELERY_STUCK_TASK_FACTOR", 3, 1, 1000)
CELERY_STUCK_TASK_CHECK_INTERVAL = _env_number("CELERY_STUCK_TASK_CHECK_INTERVAL", 10, 0.05, 600)
# A periodic task of CELERY_BEAT_SCHEDULE not run this long (s) after it was due is
# reported as missed (monitoring/missed_beats.py); workers check this often (s).
CELERY_BEAT_GRACE = _env_number("CELERY_BEAT_GRACE", 120, 0, 86400)
CELERY_BEAT_CHECK_INTERVAL = _env_number("CELERY_BEAT_CHECK_INTERVAL", 60, 0.05, 3600)

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "{{ cookiecutter.project_slug }}.monitoring",
{%- if cookiecutter.use_sentry == "y" %}
    # Starts the SDK in ready(), before any request or task (monitoring/sentry/startup.py).
    "{{ cookiecutter.project_slug }}.monitoring.sentry",
    "{{ cookiecutter.project_slug }}.alerting",
{%- endif %}
    "{{ cookiecutter.project_slug }}.orders",
]

MIDDLEWARE = [
    # First: request id, timing and the access line cover everything below it.
    f"{APPS_DIR.name}.monitoring.middleware.RequestContextMiddleware",
{%- if cookiecutter.use_prometheus == "y" %}
    # Early: times the whole stack and answers /metrics before any Host check.
    f"{APPS_DIR.name}.monitoring.metrics.middleware.MetricsMiddleware",
{%- endif %}
    # Answers the health probes before host validation and the HTTPS redirect (docs/health.md);
    # only request-context middleware belongs above it.
    f"{APPS_DIR.name}.monitoring.health.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# SECURITY
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Where the admin is served (config/urls.py). Bots try /admin/: the generated .env has a
# random path; set DJANGO_ADMIN_URL in production too (docs/deploy.md).
ADMIN_URL = env("DJANGO_ADMIN_URL", default="") or "admin/"
if not ADMIN_URL.endswith("/") or ADMIN_URL.startswith("/"):
    raise ImproperlyConfigured(
        f"DJANGO_ADMIN_URL is {ADMIN_URL!r}; give a path without a leading slash that "
        "ends with one, e.g. manage-4f9c2e/."
    )

{% if cookiecutter.use_prometheus == "y" -%}
# PROMETHEUS METRICS (docs/metrics.md)
# ------------------------------------------------------------------------------
# /metrics answers direct connections from these networks, or any request with
# `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS",
    default=["127.0.0.0/8", "::1/128"],
)
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Where each Celery worker serves its own /metrics: loopback here, every address in
# production (config/settings/production.py), where Prometheus scrapes the pod or host.
METRICS_WORKER_ADDRESS = env("METRICS_WORKER_ADDRESS", default="127.0.0.1")
# 0: any free port, as the tests run several workers on one host.
METRICS_WORKER_PORT = _env_int("METRICS_WORKER_PORT", 9808, 0, 65535)

{% endif -%}
# EMAIL
# ------------------------------------------------------------------------------
# One URL sets backend, host, port, credentials and TLS (django-environ), e.g.
# smtp+tls://user:password@smtp.example.com:587, consolemail:// or dummymail://.
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env(
    "DJANGO_DEFAULT_FROM_EMAIL",
    default="noreply@{{ cookiecutter.domain_name }}",
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [
    (
        {{ cookiecutter.author_name | tojson }},
        {{ cookiecutter.author_email | tojson }},
    ),
]
MANAGERS = ADMINS

# LOGGING and request correlation (monitoring/logs.py, monitoring/middleware.py)
# ------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
# json: one JSON object per line (production, tests); console: readable lines
# (local.py makes it the default there).
LOG_FORMAT = env("LOG_FORMAT", default="json")
# Optional rotating file, always JSON, besides stdout.
LOG_FILE = env("LOG_FILE", default="")
LOGGING_CONFIG = f"{APPS_DIR.name}.monitoring.logs.configure_logging"


def logging_setting(environment: str, log_format: str) -> dict[str, Any]:
    """LOGGING for these values; a child that changes either builds it again with this."""
    return build_logging(
        level=LOG_LEVEL,
        log_format=log_format,
        log_file=LOG_FILE,
        environment=environment,
        release=RELEASE_VERSION,
    )


LOGGING = logging_setting(ENVIRONMENT, LOG_FORMAT)
# Access lines of requests slower than this many milliseconds are warnings.
SLOW_REQUEST_THRESHOLD_MS = _env_int("SLOW_REQUEST_THRESHOLD_MS", 1000)
# Proxies in front of the app whose X-Forwarded-For entries are trusted for the client IP.
TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
# Keep a valid incoming X-Request-ID (on: a proxy or caller in front sets it, and its id
# follows the request here) or always mint our own (off: clients reach the app directly and
# could reuse another request's id to muddle its log lines). docs/logging.md.
TRUST_REQUEST_ID_HEADER = _env_flag("TRUST_REQUEST_ID_HEADER", default=True)
# URL paths whose <name> segments are secrets, masked in logs and error reports (request
# URLs, transaction names, breadcrumbs), written as Django URL patterns, comma-separated.
# Default: Django's password-reset link, whose token logs in whoever holds it.
MASKED_URL_PATHS = env.list("MASKED_URL_PATHS", default=list(DEFAULT_MASKED_URL_PATHS))
# Settings whose values are credentials in themselves: masked wherever they appear in log
# lines{% if cookiecutter.use_sentry == "y" %} and Sentry events{% endif %} (values under 8 characters are left to the other rules).
REDACTED_SETTINGS = ["SECRET_KEY"]

# HEALTH CHECKS (docs/health.md)
# ------------------------------------------------------------------------------

# Overall deadline of /health/ and /health/ready/, in seconds.
HEALTH_CHECK_TIMEOUT = _env_number("HEALTH_CHECK_TIMEOUT", 1.0, 0.1, 30)
# When set, per-check messages are shown only to "Authorization: Bearer <token>".
HEALTH_CHECK_TOKEN = env("HEALTH_CHECK_TOKEN", default="")
# Free space (percent of the volume holding this path) below which disk warns / fails.
HEALTH_CHECK_DISK_PATH = env("HEALTH_CHECK_DISK_PATH", default="/")
HEALTH_CHECK_DISK_WARNING_PERCENT = _env_number("HEALTH_CHECK_DISK_WARNING_PERCENT", 10, 0, 100)
HEALTH_CHECK_DISK_ERROR_PERCENT = _env_number(
    "HEALTH_CHECK_DISK_ERROR_PERCENT", 5, 0, HEALTH_CHECK_DISK_WARNING_PERCENT
)
# Every check of /health/: name -> dotted path of a function(seconds_left: float) -> Result.
# Add your own here (see docs/health.md); `manage.py check` validates this block.
_BUILTIN_CHECKS = f"{APPS_DIR.name}.monitoring.health.checks"
HEALTH_CHECKS = {
    "database": f"{_BUILTIN_CHECKS}.database",
    "cache": f"{_BUILTIN_CHECKS}.cache",
    "broker": f"{_BUILTIN_CHECKS}.broker",
    "disk": f"{_BUILTIN_CHECKS}.disk",
    "migrations": f"{_BUILTIN_CHECKS}.migrations",
    "celery_workers": f"{_BUILTIN_CHECKS}.celery_workers",
    "beat": f"{_BUILTIN_CHECKS}.beat",
}
# The checks /health/ready/ runs: only what serving traffic needs.
HEALTH_READY_CHECKS = ["database", "cache", "broker"]
# Checks whose failures (timeouts included) count as warnings, never errors.
HEALTH_WARNING_ONLY_CHECKS = ["celery_workers", "beat"]
# Called as f(name, status, seconds) after every check run (to count outcomes, say).
{%- if cookiecutter.use_prometheus == "y" %}
HEALTH_CHECK_OBSERVERS = [f"{APPS_DIR.name}.monitoring.metrics.instruments.observe_health_check"]
{%- else %}
HEALTH_CHECK_OBSERVERS: list[str] = []
{%- endif %}
{%- if cookiecutter.use_sentry == "y" %}

# SENTRY (monitoring/sentry/; no SENTRY_DSN = SDK off, the app works without it)
# ------------------------------------------------------------------------------
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_TRACES_SAMPLE_RATE = _env_number("SENTRY_TRACES_SAMPLE_RATE", {{ cookiecutter.sentry_traces_sample_rate | float }}, 0, 1)
{%- if cookiecutter.use_sentry_profiling == "y" %}
SENTRY_PROFILES_SAMPLE_RATE = _env_number("SENTRY_PROFILES_SAMPLE_RATE", {{ cookiecutter.sentry_profiles_sample_rate | float }}, 0, 1)
{%- endif %}
# Log records at or above this level (and LOG_LEVEL) also go to Sentry Logs, scrubbed as
# log lines are (monitoring/sentry/logs.py); empty: off.
_SENTRY_LOGS_LEVEL = env("SENTRY_LOGS_LEVEL", default="")
SENTRY_LOGS_LEVEL = _SENTRY_LOGS_LEVEL.strip().upper()
if SENTRY_LOGS_LEVEL not in ("", *LOG_LEVELS):
    raise ImproperlyConfigured(
        f"SENTRY_LOGS_LEVEL is {_SENTRY_LOGS_LEVEL!r}; use one of: {', '.join(LOG_LEVELS)}, "
        "or leave it empty to send no logs."
    )
# Whether user e-mail, username and IP address may reach Sentry (a generation answer).
SENTRY_SEND_DEFAULT_PII = {{ "True" if cookiecutter.sentry_send_default_pii == "y" else "False" }}

# ALERTING: Sentry webhooks -> Slack / PagerDuty / e-mail (docs/alerting.md)
# ------------------------------------------------------------------------------
# Client secret of the Sentry internal integration; the receiver answers 503 without it.
SENTRY_WEBHOOK_SECRET = env("SENTRY_WEBHOOK_SECRET", default="")
# Sentry sends `issue` webhooks for every project of the organisation: act on these only
# (project ids or slugs, comma-separated; "*" for all), by default SENTRY_DSN's project
# (the number that ends the DSN). Alert rules' webhooks are not filtered: a rule is
# already about the projects it was set up for.
SENTRY_WEBHOOK_PROJECTS = env.list(
    "SENTRY_WEBHOOK_PROJECTS",
    default=[SENTRY_DSN.rstrip("/").rsplit("/", 1)[-1]] if SENTRY_DSN else [],
)
# Each channel is off while its variable is empty.
SLACK_WEBHOOK_URL = env("SLACK_WEBHOOK_URL", default="")
PAGERDUTY_ROUTING_KEY = env("PAGERDUTY_ROUTING_KEY", default="")
PAGERDUTY_EVENTS_URL = env(
    "PAGERDUTY_EVENTS_URL",
    default="https://events.pagerduty.com/v2/enqueue",
)
ALERT_EMAILS = [addr.strip() for addr in env.list("ALERT_EMAILS", default=[]) if addr.strip()]
# A Slack webhook URL and a routing key are their own credentials.
REDACTED_SETTINGS += ["SENTRY_WEBHOOK_SECRET", "SLACK_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY"]
# Delivery: seconds per Slack or PagerDuty call (both answer in well under a second; e-mail
# uses EMAIL_TIMEOUT), tries per channel, exponential back-off with jitter.
ALERT_HTTP_TIMEOUT = _env_number("ALERT_HTTP_TIMEOUT", 3, 0.1, 60)
ALERT_MAX_TRIES = 6
ALERT_RETRY_BACKOFF = 10.0
ALERT_RETRY_BACKOFF_MAX = 600.0
# One queue per channel (alerting/outbox.py), and at most this many deliveries of one channel
# in flight: a channel that hangs holds that many worker processes, never the pages' share.
ALERT_QUEUE_PREFIX = env("ALERT_QUEUE_PREFIX", default="alerts.")
ALERT_CHANNEL_CONCURRENCY = _env_int("ALERT_CHANNEL_CONCURRENCY", 1, 1)
CELERY_TASK_QUEUES += [
    Queue(f"{ALERT_QUEUE_PREFIX}{channel}") for channel in ("pagerduty", "slack", "email")
]
# The outbox's sweeper: every ALERT_SWEEP_INTERVAL s, deliveries overdue by ALERT_SWEEP_GRACE s
# (broker lost them, a worker died mid-send) are queued again. Alerts are kept, and their
# webhook bodies remembered against replays, ALERT_RETENTION_DAYS days.
ALERT_SWEEP_INTERVAL = _env_number("ALERT_SWEEP_INTERVAL", 15, 1, 3600)
ALERT_SWEEP_GRACE = _env_number("ALERT_SWEEP_GRACE", 60, 1, 86400)
ALERT_RETENTION_DAYS = _env_int("ALERT_RETENTION_DAYS", 30, 1)
CELERY_BEAT_SCHEDULE["alerts-sweep"] = {
    "task": "{{ cookiecutter.project_slug }}.alerting.tasks.sweep_deliveries",
    "schedule": ALERT_SWEEP_INTERVAL,
}
# The alert path's round trip (alerting/alert_path.py): every ALERT_PATH_CHECK_INTERVAL s a
# tagged test event goes to Sentry, whose "alert path check" rule sends it back to the
# receiver; none back within ALERT_PATH_CHECK_WINDOW s -> "alert path broken" on Slack and
# e-mail, and a /health/ warning. Needs SENTRY_DSN and SENTRY_WEBHOOK_SECRET; 0 turns it off.
ALERT_PATH_CHECK_INTERVAL = _env_number("ALERT_PATH_CHECK_INTERVAL", 3600, 0, 7 * 86400)
ALERT_PATH_CHECK_WINDOW = _env_number("ALERT_PATH_CHECK_WINDOW", 900, 1, 7 * 86400)
CELERY_BEAT_SCHEDULE["alert-path-check"] = {
    "task": "{{ cookiecutter.project_slug }}.alerting.tasks.check_alert_path",
    "schedule": 60.0,
}
# A digest of Sentry's error trends (alerting/trends.py: new, regressed and top issues
# against the period before) to Slack and e-mail: "daily", "weekly" (Mondays) or "off",
# at SENTRY_TREND_DIGEST_HOUR UTC. Reads Sentry's API: SENTRY_AUTH_TOKEN (project:read),
# SENTRY_ORG and SENTRY_PROJECT in the worker's environment.
SENTRY_TREND_DIGEST = env("SENTRY_TREND_DIGEST", default="daily")
if SENTRY_TREND_DIGEST not in ("daily", "weekly", "off"):
    raise ImproperlyConfigured(
        f"SENTRY_TREND_DIGEST is {SENTRY_TREND_DIGEST!r}; use daily, weekly or off."
    )
SENTRY_TREND_DIGEST_HOUR = _env_int("SENTRY_TREND_DIGEST_HOUR", 8, 0, 23)
if SENTRY_TREND_DIGEST != "off":
    CELERY_BEAT_SCHEDULE["sentry-trend-digest"] = {
        "task": "{{ cookiecutter.project_slug }}.alerting.tasks.send_trend_digest",
        "schedule": crontab(
            minute=0,
            hour=SENTRY_TREND_DIGEST_HOUR,
            day_of_week="mon" if SENTRY_TREND_DIGEST == "weekly" else "*",
        ),
    }
HEALTH_CHECKS["alert_path"] = "{{ cookiecutter.project_slug }}.alerting.health.alert_path"
HEALTH_WARNING_ONLY_CHECKS += ["alert_path"]
{%- endif %}
