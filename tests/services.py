"""PostgreSQL and Redis for the tests that run renders on real services.

TEMPLATE_TEST_PG and TEMPLATE_TEST_REDIS name the servers (no database, no db
number). Each such test gets a database and a Redis db of its own, made for it
and removed after it, pass or fail, so tests side by side (xdist workers,
another checkout's `make test`) never share or wipe one.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

PG = os.environ.get("TEMPLATE_TEST_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("TEMPLATE_TEST_REDIS", "redis://127.0.0.1:6379")
CONNECT_TIMEOUT = 3
# The test files that need both: a session that selects any of them checks first.
SERVICE_TESTS = (
    "tests/test_deploy_paths.py",
    "tests/test_e2e.py",
    "tests/test_ensure_database.py",
    "tests/test_generated_project.py",
    "tests/test_image.py",
    "tests/test_sentry_sdk3.py",
    "tests/test_services.py",
)
# A render's own suite runs pytest-django, which creates test_<NAME> from DATABASE_URL
# and drops it at its end; a suite killed before then leaves it, so both go.
DATABASES_MADE_FROM = ("{name}", "test_{name}")
# A Redis db is ours while it holds both keys: the marker names the owner, the
# lease expires, so a db whose marker outlived its lease was left by a dead run.
LEASE_KEY, MARKER_KEY = "template-tests:lease", "template-tests:claimed-by"
LEASE_SECONDS = 2 * 3600  # longer than any test holds one (a render's suite: 20 min at most)
# Atomic (one script), so two runs never claim the same db, nor one already in use.
CLAIM_SCRIPT = """
local abandoned = redis.call('EXISTS', KEYS[2]) == 1 and redis.call('EXISTS', KEYS[1]) == 0
if redis.call('DBSIZE') > 0 and not abandoned then return 0 end
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('FLUSHDB')
return 1
"""


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    variable: str
    ping: Callable[[str], object]


def ping_postgres(url: str) -> None:
    with psycopg.connect(f"{url}/postgres", connect_timeout=CONNECT_TIMEOUT):
        pass


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
    )


SERVICES = (
    Service("PostgreSQL", PG, "TEMPLATE_TEST_PG", ping_postgres),
    Service("Redis", REDIS, "TEMPLATE_TEST_REDIS", lambda url: redis_client(url).ping()),
)


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def needed_by(nodeids: Iterable[str]) -> bool:
    return any(nodeid.startswith(SERVICE_TESTS) for nodeid in nodeids)


def silent(services: Iterable[Service]) -> list[str]:
    """One sentence per service that does not answer."""
    sentences = []
    for service in services:
        try:
            service.ping(service.url)
        except (psycopg.Error, redis.RedisError, OSError):
            sentences.append(
                f"{service.name} at {without_password(service.url)} is not answering: "
                f"start it (see README) or set {service.variable}."
            )
    return sentences


@functools.cache
def not_answering() -> tuple[str, ...]:
    """silent(SERVICES), checked once per process (xdist's controller asks once per worker)."""
    return tuple(silent(SERVICES))


@contextmanager
def postgres_database(label: str) -> Iterator[str]:
    """The URL of a new, empty database; it (and any made from it) is dropped after."""
    name = f"tpl_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            for made in DATABASES_MADE_FROM:
                admin.execute(f'DROP DATABASE IF EXISTS "{made.format(name=name)}" WITH (FORCE)')


def db_numbers(client: redis.Redis) -> range:
    """Every db but 0, the one applications use by default; the highest first."""
    try:
        count = int(client.config_get("databases")["databases"])
    except (redis.RedisError, KeyError, ValueError):  # CONFIG may be renamed or denied
        count = 16
    return range(count - 1, 0, -1)


def claim_db(owner: str) -> int | None:
    for number in db_numbers(redis_client(REDIS)):
        with redis_client(f"{REDIS}/{number}") as client:
            if client.eval(CLAIM_SCRIPT, 2, LEASE_KEY, MARKER_KEY, owner, LEASE_SECONDS):
                return number
    return None


@contextmanager
def redis_db() -> Iterator[str]:
    """The URL of a Redis db that was empty (or abandoned by a dead run); flushed after."""
    owner = secrets.token_hex(8)
    number = claim_db(owner)
    if number is None:
        pytest.fail(f"Redis at {without_password(REDIS)} has no empty db left for this test.")
    try:
        yield f"{REDIS}/{number}"
    finally:
        with redis_client(f"{REDIS}/{number}") as client:
            client.eval(RELEASE_SCRIPT, 1, MARKER_KEY, owner)
