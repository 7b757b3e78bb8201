"""scripts/ensure_database.py, which `make bench` runs first, on the real PostgreSQL."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from ensure_database import ensure_database

from . import services

pytestmark = pytest.mark.services


def test_a_missing_database_is_created_once():
    name = f"tpl_ensure_{uuid.uuid4().hex[:12]}"
    url = urlunsplit(urlsplit(services.PG)._replace(path=f"/{name}"))
    try:
        assert ensure_database(url) is True
        assert ensure_database(url) is False  # already there: left alone
        with psycopg.connect(url, connect_timeout=5) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        admin_url = urlunsplit(urlsplit(services.PG)._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
