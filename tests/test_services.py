"""The databases and Redis dbs the service tests get: their own, and gone after them.

Runs on the real PostgreSQL and Redis (services.SERVICE_TESTS lists this file).
"""

from __future__ import annotations

import psycopg
import pytest
import redis

from . import services


class TestFailed(RuntimeError):
    __test__ = False  # an exception, not a test class


def database_names() -> set[str]:
    with psycopg.connect(f"{services.PG}/postgres") as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def test_each_database_is_new_and_dropped_after_with_the_one_made_from_it():
    with pytest.raises(TestFailed), services.postgres_database("probe") as url:
        name = url.rsplit("/", 1)[1]
        with services.postgres_database("probe") as other:
            assert other != url
        assert name in database_names()
        # What pytest-django makes for a render's suite, left as by a suite that was killed.
        with psycopg.connect(url.replace(name, "postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "test_{name}"')
        raise TestFailed
    assert not {name, f"test_{name}", other.rsplit("/", 1)[1]} & database_names()


def test_a_redis_db_is_one_nobody_uses_and_is_flushed_after_even_on_failure():
    with pytest.raises(TestFailed), services.redis_db() as url:
        held = client(url)
        assert set(held.keys()) == {services.LEASE_KEY, services.MARKER_KEY}
        owner = held.get(services.MARKER_KEY)
        with services.redis_db() as other:
            assert other != url  # one in use is not claimed again
        held.set("left-by-the-test", "x")
        raise TestFailed
    assert held.get("left-by-the-test") is None
    assert held.get(services.MARKER_KEY) != owner


def test_a_db_holding_anyone_else_s_keys_is_never_claimed():
    with services.redis_db() as url:
        held = client(url)
        owner = held.get(services.MARKER_KEY)
        held.delete(services.LEASE_KEY, services.MARKER_KEY)
        held.set("someone-else", "x")
        try:
            assert not held.eval(services.CLAIM_SCRIPT, 2, services.LEASE_KEY,
                                 services.MARKER_KEY, "intruder", 60)  # fmt: skip
            assert held.get("someone-else") == "x"
        finally:
            held.set(services.MARKER_KEY, owner)  # ours again, so it is flushed after


def test_a_db_left_by_a_dead_run_is_claimed_again():
    with services.redis_db() as url:
        held = client(url)
        held.delete(services.LEASE_KEY)  # the dead run's lease expired; its marker stayed
        held.set("left-by-the-dead-run", "x")
        keys = (services.LEASE_KEY, services.MARKER_KEY)
        assert held.eval(services.CLAIM_SCRIPT, 2, *keys, "next-run", 60)
        assert held.get("left-by-the-dead-run") is None
        assert held.get(services.MARKER_KEY) == "next-run"
        assert held.eval(services.RELEASE_SCRIPT, 1, services.MARKER_KEY, "next-run")
