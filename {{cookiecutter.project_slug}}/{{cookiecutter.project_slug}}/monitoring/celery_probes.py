"""Liveness and readiness of the Celery worker and beat, kept as files a probe reads.

`celery inspect ping` as a probe starts Python and Django for every check
(1.2-1.3 s of CPU measured here), and asks the broker: when the broker is down
every worker fails it at once and is restarted together, which cannot bring the
broker back. Instead the processes keep these files in CELERY_PROBE_DIR, and
scripts/celery_probe.sh (POSIX sh, 5 ms of CPU) checks their age:

- worker.alive: touched every CELERY_PROBE_INTERVAL seconds by a timer of the
  consumer's event loop, so a wedged or stopped loop stops touching it. While
  the consumer is (re)connecting to the broker its loop does not run, and a
  thread touches the file instead: a broker outage is not a reason to restart;
- worker.ready: present while the consumer is connected and consuming its
  queues (written after Celery's Tasks step starts, removed when the connection
  is lost or the worker stops);
- beat.alive: touched after each tick of beat's scheduler, whatever the
  scheduler class (CELERY_BEAT_MAX_LOOP_INTERVAL bounds the time between ticks).

Under systemd with WatchdogSec, each touch also sends WATCHDOG=1 to
$NOTIFY_SOCKET, so systemd restarts a wedged worker or beat by itself.

The worker step and the beat receiver are wired by
celery_signals.connect_celery_signals().
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

from celery import bootsteps
from celery.signals import beat_init
from django.conf import settings

WORKER_ALIVE, WORKER_READY, BEAT_ALIVE = "worker.alive", "worker.ready", "beat.alive"


def probe_file(name: str) -> Path:
    folder = Path(settings.CELERY_PROBE_DIR)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_uid != os.getuid():
        raise RuntimeError(f"CELERY_PROBE_DIR {folder} belongs to another user: set another")
    return folder / name


def notify_watchdog() -> None:
    """sd_notify(WATCHDOG=1) when systemd watches this process; a no-op elsewhere."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not os.environ.get("WATCHDOG_USEC"):
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, suppress(OSError):
        sock.sendto(b"WATCHDOG=1", address)  # OSError: systemd is gone (shutdown)


def touch(path: Path) -> None:
    path.touch()
    notify_watchdog()


class WorkerProbeFiles(bootsteps.StartStopStep):
    """Consumer step keeping worker.alive fresh and worker.ready truthful."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.alive, self.ready = probe_file(WORKER_ALIVE), probe_file(WORKER_READY)
        self.ready.unlink(missing_ok=True)  # left by a worker that was killed
        self.interval = float(settings.CELERY_PROBE_INTERVAL)
        self.connected = False
        self.loop_timer: Any = None
        self.stopping = threading.Event()
        self.keeper = threading.Thread(
            target=self.touch_while_connecting, name="probe-files", daemon=True
        )
        self.keeper.start()

    def touch_while_connecting(self) -> None:
        while not self.stopping.wait(self.interval):
            if not self.connected:
                touch(self.alive)

    def start(self, parent: Any) -> None:
        touch(self.alive)
        self.loop_timer = parent.timer.call_repeatedly(self.interval, touch, (self.alive,))
        self.connected = True
        self.ready.touch()

    def stop(self, parent: Any) -> None:
        """The connection was lost (the consumer restarts its steps) or the worker stops."""
        self.connected = False
        self.ready.unlink(missing_ok=True)
        if self.loop_timer is not None:
            self.loop_timer.cancel()
            self.loop_timer = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        self.stopping.set()
        self.alive.unlink(missing_ok=True)


def touch_after_each_tick(sender: Any, **kwargs: Any) -> None:
    """beat_init (sender: celery.beat.Service): wrap its scheduler's tick().

    Beat sends no signal per tick; wrapping the one scheduler instance works
    for the default and the database scheduler alike.
    """
    scheduler = sender.scheduler
    tick = scheduler.tick
    alive = probe_file(BEAT_ALIVE)

    def tick_and_touch(*args: Any, **kwargs: Any) -> Any:
        interval = tick(*args, **kwargs)
        touch(alive)
        return interval

    touch(alive)
    scheduler.tick = tick_and_touch


RECEIVERS = ((beat_init, touch_after_each_tick),)
