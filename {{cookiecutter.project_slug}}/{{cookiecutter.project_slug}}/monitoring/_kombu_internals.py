"""The one place that patches kombu's internals (not its documented API).

tests/test_kombu_internals.py checks both that kombu still behaves as worked around
here and that the patch holds, so an upgrade that changes either fails there.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


def closed_transport_is_a_lost_connection() -> None:
    """A Redis channel asked for a new connection pool after its transport was closed
    raises a connection error, not AttributeError.

    When the broker goes away, the worker closes its connection while kombu restores
    the unacknowledged messages; if the transport was closed already, kombu reads
    `transport.client.hostname` on None, and the AttributeError, which its close does
    not expect, stops the worker ("Unrecoverable error", exit 1) instead of letting it
    reconnect (seen about once in five Redis restarts with acks_late tasks in flight).
    The messages stay in Redis' unacked set and come back as usual.
    """
    channel = kombu_redis.Channel
    # Private: kombu-stubs (celery-types) declare the public API only.
    original = channel._connparams  # type: ignore[attr-defined]
    if getattr(original, "closed_transport_is_a_lost_connection", False):
        return

    def _connparams(self: Any, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker transport was closed")
        params: dict[str, Any] = original(self, asynchronous=asynchronous)
        return params

    _connparams.closed_transport_is_a_lost_connection = True  # type: ignore[attr-defined]
    _connparams.__wrapped__ = original  # type: ignore[attr-defined]
    channel._connparams = _connparams  # type: ignore[attr-defined]
