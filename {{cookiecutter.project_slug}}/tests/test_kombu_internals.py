"""monitoring/_kombu_internals.py: kombu still has the defect it works around, and the patch holds.

A worker that loses Redis closes its connection while kombu restores the messages it
had not acknowledged. When the transport was closed already, kombu used to stop the
worker with an AttributeError; patched, the close ends as a lost connection does.
"""

from __future__ import annotations

import os

import kombu
import pytest
from kombu.common import ignore_errors
from kombu.simple import SimpleQueue
from kombu.transport import redis as kombu_redis

from .conftest import requires

pytestmark = requires("REDIS_URL")


@pytest.fixture
def closed_with_a_message_in_hand():
    """A connection holding one unacknowledged message, its transport closed under it."""
    connection = kombu.Connection(os.environ["REDIS_URL"])
    channel = connection.default_channel
    queue = SimpleQueue(channel, f"kombu-internals-{os.getpid()}")
    queue.put("x")
    queue.get(timeout=5)  # not acknowledged
    assert channel.qos._delivered
    channel._pool = None
    channel.connection.client = None  # what closing the transport leaves behind
    yield connection, channel
    channel.qos._delivered.clear()  # nothing left for kombu's restore at interpreter exit


def test_kombu_still_fails_on_a_closed_transport(closed_with_a_message_in_hand):
    """Fails once kombu fixes it: then remove the patch."""
    _, channel = closed_with_a_message_in_hand
    with pytest.raises(AttributeError):
        kombu_redis.Channel._connparams.__wrapped__(channel)


def test_patched_the_close_ends_as_a_lost_connection(closed_with_a_message_in_hand):
    connection, channel = closed_with_a_message_in_hand
    assert kombu_redis.Channel._connparams.closed_transport_is_a_lost_connection
    with pytest.raises(connection.connection_errors):
        channel._connparams()
    ignore_errors(connection, connection.close)  # the worker's call: raises nothing now
