"""What happens to a task when its whole worker is killed: kill -9, then a restart.

A real prefork worker on a Redis of the test's own, with a visibility timeout of 2 s
(3600 in production) so that Redis hands unacknowledged messages back within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import warnings
from pathlib import Path

from celery import Celery
from celery.exceptions import AlwaysEagerIgnored

from .conftest import clean_env
from .support.celery_processes import start_celery, wait_until
from .support.redis_server import needs_redis_server, redis_server

SAFE = "tests.support.slow_tasks.safe_to_repeat"
ONCE = "tests.support.slow_tasks.runs_at_most_once"

pytestmark = needs_redis_server


def start_worker(broker: str, folder: Path, log: Path) -> subprocess.Popen:
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        REDIS_URL=broker,
        CELERY_VISIBILITY_TIMEOUT="2",
        CELERY_PROBE_DIR=str(folder / "probes"),
        METRICS_WORKER_PORT="0",
    )
    args = [
        *("worker", "--pool=prefork", "--concurrency=2", "-Q", "delivery"),
        *("-I", "tests.support.slow_tasks", "--without-mingle", "--without-gossip"),
    ]
    # A process group of its own: the kill takes the pool processes too.
    return start_celery(args, log, env, start_new_session=True)


def starts(path: Path) -> int:
    return path.read_text().count("started") if path.exists() else 0


def test_a_killed_worker_reruns_acks_late_tasks_and_never_the_others(tmp_path):
    safe, once, log = tmp_path / "safe", tmp_path / "once", tmp_path / "worker.log"
    with redis_server() as server:
        sender = Celery(broker=server.url)
        worker = start_worker(server.url, tmp_path, log)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AlwaysEagerIgnored)
                for name, path in ((SAFE, safe), (ONCE, once)):
                    sender.send_task(name, (str(path), 60), queue="delivery")
            wait_until(lambda: starts(safe) == starts(once) == 1, 60, "both tasks started", log)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            worker = start_worker(server.url, tmp_path, log)
            # Redis restores the unacknowledged message (every 10 s, once 2 s old).
            wait_until(lambda: "finished" in safe.read_text(), 45, "the rerun", log)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    assert safe.read_text().splitlines() == ["started", "started", "finished"]
    # Acknowledged as it started: lost with its worker, never run twice.
    assert once.read_text().splitlines() == ["started"]
