"""Create the PostgreSQL database a URL names, unless it exists: `ensure_database.py URL`.

`make bench` runs it first, so a fresh machine needs nothing made by hand.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def ensure_database(url: str) -> bool:
    """True when the database had to be created."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit(f"{url!r} names no database")
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.splitlines()[0])
    if ensure_database(sys.argv[1]):
        print(f"created database {urlsplit(sys.argv[1]).path.lstrip('/')}")
