"""The built-in checks. Each gets the seconds left before the deadline and returns a Result.

An exception means "error": the runner logs it and shows only a generic message.
A check that opens its own connection bounds its sockets by the seconds left.
"""

import shutil
import time
import uuid
from urllib.parse import urlsplit

import redis
from celery import current_app
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from kombu.pidbox import Mailbox

from ..missed_beats import missed_beats
from .result import Result, error, ok, warning

REDIS_SCHEMES = {"redis", "rediss", "unix"}
# The shortest socket timeout a check uses, however little of its deadline is left: a
# run that starts late still gets a real answer from a healthy broker, not a timeout of a
# few microseconds. The same as the smallest HEALTH_CHECK_TIMEOUT the settings allow.
MIN_SOCKET_TIMEOUT = 0.1


def socket_timeout(seconds_left: float) -> float:
    """The socket timeout of a connection opened with *seconds_left* before the deadline."""
    return max(seconds_left, MIN_SOCKET_TIMEOUT)


def database(seconds_left: float) -> Result:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return ok()


def cache(seconds_left: float) -> Result:
    backend = caches["default"]
    key, value = f"health-check:{uuid.uuid4().hex}", uuid.uuid4().hex
    backend.set(key, value, timeout=30)
    try:
        read_back = backend.get(key)
    finally:
        backend.delete(key)
    return ok() if read_back == value else error("value read back differs from the one written")


def broker(seconds_left: float) -> Result:
    url = settings.CELERY_BROKER_URL
    if urlsplit(url).scheme == "memory":
        return ok("no broker: tasks run inline")
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        return warning("only Redis brokers are checked")
    # One connection per run, closed after it, so that its sockets get this run's time
    # left (a pooled client keeps the timeouts it was made with): connecting and the PING
    # each give up after it, and a hung broker frees the thread soon after the deadline.
    bound = socket_timeout(seconds_left)
    with redis.Redis.from_url(url, socket_connect_timeout=bound, socket_timeout=bound) as client:
        client.ping()
    return ok()


def disk(seconds_left: float) -> Result:
    usage = shutil.disk_usage(settings.HEALTH_CHECK_DISK_PATH)
    free_percent = 100 * usage.free / usage.total
    message = f"{free_percent:.1f}% free"
    if free_percent < settings.HEALTH_CHECK_DISK_ERROR_PERCENT:
        return error(message)
    if free_percent < settings.HEALTH_CHECK_DISK_WARNING_PERCENT:
        return warning(message)
    return ok(message)


def migrations(seconds_left: float) -> Result:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return error(f"{len(pending)} unapplied migration(s)")
    return ok()


def celery_workers(seconds_left: float) -> Result:
    # current_app is the app config/celery_app.py configured, in every thread (Celery's Django
    # fix-up makes it the default app), so monitoring needs no import of the project's config.
    if current_app.conf.task_always_eager:
        return ok("no broker: tasks run inline")
    bound = socket_timeout(seconds_left)
    options = {
        "socket_connect_timeout": bound,
        "socket_timeout": bound,
        "max_retries": 0,  # a refused connection is the answer: don't retry
        "polling_interval": 0.1,  # poll replies every 0.1 s instead of kombu's 1 s
    }
    # A mailbox of our own publishes on this connection, not through the app's producer
    # pool (whose sockets have no timeout), so a hung broker can't hold the thread.
    mailbox = Mailbox(current_app.conf.control_exchange, type="fanout", accept=["json"])
    with current_app.connection_for_write(connect_timeout=bound, transport_options=options) as conn:
        # The first reply ends the wait; half the time left keeps a margin for the broker
        # round trips around it, so "no worker" is answered before the deadline.
        # kombu-stubs say mailbox(conn) is a Node; kombu returns the Mailbox bound to conn.
        mailbox_on_conn = mailbox(conn)
        replies = mailbox_on_conn.multi_call("ping", timeout=seconds_left / 2, limit=1)  # type: ignore[attr-defined]
    return ok() if replies else warning("no worker answered")


def beat(seconds_left: float) -> Result:
    """Periodic tasks overdue past the grace (missed_beats.py): beat stopped, or no worker."""
    if not current_app.conf.beat_schedule:
        return ok("no periodic tasks")
    missed = missed_beats(current_app, time.time())
    if not missed:
        return ok()
    names = ", ".join(sorted(item.entry for item in missed))
    return warning(f"missed: {names}")


def database_stats(seconds_left: float) -> dict[str, object]:
    """Connection statistics for /health/db/ (PostgreSQL only; other engines get SELECT 1)."""
    stats: dict[str, object] = {"engine": connection.vendor}
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("SELECT 1")
            return stats
        cursor.execute(
            "SELECT count(*), extract(epoch FROM max(now() - backend_start))"
            " FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
        )
        count, oldest = cursor.fetchone()
    stats["connections"] = count
    stats["oldest_connection_seconds"] = round(float(oldest or 0), 1)
    return stats
