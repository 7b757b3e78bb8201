"""The one place that reads gunicorn's internals (not its documented API).

tests/test_liveness_listener.py runs a real gunicorn through this function, so an
upgrade that changes these attributes fails there, not in production.
"""

from __future__ import annotations

import time
from typing import Any


def worker_heartbeat_ages(arbiter: Any) -> list[float]:
    """Seconds since each worker of this arbiter last told it "alive".

    Every worker touches its temporary file (WorkerTmp.notify: the mtime set to
    time.monotonic()) between requests; the arbiter kills one that stays silent
    past `timeout`, which this mirrors (Arbiter.murder_workers, gunicorn 23 to 27).
    """
    now = time.monotonic()
    ages = []
    for worker in list(arbiter.WORKERS.values()):
        try:
            ages.append(now - worker.tmp.last_update())
        except (OSError, ValueError):  # the worker is exiting: its file is closed
            continue
    return ages
