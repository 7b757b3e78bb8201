"""What a scrape returns: this process tree's metrics plus values read at scrape time."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from functools import lru_cache

import redis
from celery import current_app
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._multiprocess_files import folder_lock

logger = logging.getLogger(__name__)

# Kombu's Redis transport keeps messages sent with a priority in extra lists.
REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
REDIS_TIMEOUT_S = 0.25


def render(*extra: Collector) -> bytes:
    """The Prometheus text exposition of every process's metrics and of `extra`."""
    registry = CollectorRegistry()
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        registry.register(REGISTRY)
        for collector in extra:
            registry.register(collector)
        return generate_latest(registry)
    MultiProcessCollector(registry, path=folder)
    for collector in extra:
        registry.register(collector)
    # Shared with other scrapes; a dead process's files are folded while none reads.
    with folder_lock(folder, exclusive=False):
        return generate_latest(registry)


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),  # A scrape must not wait for retries.
    )


def oldest_message_age(raw: bytes | None, now: float) -> float:
    """Seconds since the message was sent (our published_at header); 0 when unknown."""
    if not raw:
        return 0.0
    try:
        published_at = json.loads(raw)["headers"]["published_at"]
    except (ValueError, KeyError, TypeError):
        return 0.0
    return max(0.0, now - float(published_at)) if isinstance(published_at, (int, float)) else 0.0


class CeleryQueueLength(Collector):
    """Read from Redis per scrape, for each declared queue: celery_queue_length (messages
    waiting) and celery_queue_oldest_message_age_seconds (the next one to be taken: kombu
    pushes on the left and takes from the right). Two commands per priority list, all in
    one round trip.

    A broker that is not Redis, or does not answer within REDIS_TIMEOUT_S, leaves the
    metrics out of that scrape rather than failing it.
    """

    def describe(self) -> list[Metric]:
        return []  # Keeps registration from calling Redis.

    def collect(self) -> Iterator[Metric]:
        url = current_app.conf.broker_url
        if not url or not url.startswith(("redis://", "rediss://", "unix://")):
            return
        queues = watched_queues()
        try:
            pipe = _redis(url).pipeline(transaction=False)
            for queue in queues:
                for suffix in REDIS_PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
                    pipe.lindex(queue + suffix, -1)
            replies = pipe.execute()
        except redis.RedisError as exc:
            logger.warning("Celery queue length unavailable: %s", type(exc).__name__)
            return
        now = time.time()
        family = GaugeMetricFamily(
            "celery_queue_length", "Messages waiting in the Celery queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "celery_queue_oldest_message_age_seconds",
            "How long the next message of the queue has waited since it was sent (0: empty).",
            labels=["queue"],
        )
        per_queue = 2 * len(REDIS_PRIORITY_SUFFIXES)
        for index, queue in enumerate(queues):
            mine = replies[index * per_queue : (index + 1) * per_queue]
            family.add_metric([queue], sum(mine[0::2]))
            age.add_metric([queue], max(oldest_message_age(raw, now) for raw in mine[1::2]))
        yield family
        yield age


def watched_queues() -> list[str]:
    """The default queue, then every other declared one (CELERY_TASK_QUEUES)."""
    default = current_app.conf.task_default_queue
    return [default, *(name for name in current_app.amqp.queues if name != default)]


class CeleryWorkerUp(Collector):
    """celery_worker_up 1 from each worker exporter: its absence means no worker runs."""

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("celery_worker_up", "1 while this Celery worker runs.", value=1)
