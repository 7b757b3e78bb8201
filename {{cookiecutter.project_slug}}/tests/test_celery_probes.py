"""The worker's and beat's probe files, on a real worker and beat and a Redis of our own.

scripts/celery_probe.py is run as a probe runs it (a fresh process) against the
files the processes keep (monitoring/celery_probes.py). The probe interval is
shortened so each fault shows within a second or two.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import redis
from celery import Celery

from .conftest import PROJECT_DIR, clean_env, settings_values
from .support.celery_processes import celery_process, wait_until
from .support.redis_server import RedisServer, needs_redis_server, redis_server

INTERVAL = 0.2  # CELERY_PROBE_INTERVAL and beat's maximum loop interval here
# The probes' limit here, whole seconds (30 s and 60 s by default): 20 intervals, room for
# a loaded machine, where the consumer's restart after a lost broker (its steps stopped
# before the connecting thread takes over the file) was seen to take 3 to 5 s.
MAX_AGE = 4


def probe(name: str, folder: Path, *extra: str, env: dict[str, str] | None = None):
    return subprocess.run(
        ["sh", "scripts/celery_probe.sh", name, *(extra or [str(MAX_AGE)])],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=30, check=False,
        env=env or {**os.environ, "CELERY_PROBE_DIR": str(folder)},
    )  # fmt: skip


def passes(name: str, folder: Path) -> Callable[[], bool]:
    return lambda: probe(name, folder).returncode == 0


def fails(name: str, folder: Path) -> Callable[[], bool]:
    return lambda: probe(name, folder).returncode == 1


def holds_for(name: str, folder: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe(name, folder).returncode != 0:
            return False
    return True


def celery(args: list[str], server: RedisServer, folder: Path, log: Path, **extra_env: str):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        REDIS_URL=server.url,
        CELERY_PROBE_DIR=str(folder),
        CELERY_PROBE_INTERVAL=str(INTERVAL),
        CELERY_BEAT_MAX_LOOP_INTERVAL=str(INTERVAL),
        METRICS_WORKER_PORT="0",
        **extra_env,
    )
    return celery_process(args, log, env)


WORKER_ARGS = ["worker", "--pool=prefork", "--concurrency=1", "-Q", "probes",
               "--without-mingle", "--without-gossip", "--loglevel=INFO"]  # fmt: skip


@pytest.fixture
def worker(tmp_path) -> Iterator[tuple[subprocess.Popen, RedisServer, Path]]:
    folder = tmp_path / "probes"
    with redis_server() as server, celery(WORKER_ARGS, server, folder, tmp_path / "log") as process:
        wait_until(passes("worker-ready", folder), 60, "worker ready", folder.parent / "log")
        yield process, server, folder


@needs_redis_server
def test_a_stopped_consumer_fails_liveness_and_recovers(worker):
    process, _, folder = worker
    assert probe("worker-alive", folder).returncode == 0
    process.send_signal(signal.SIGSTOP)  # the main process: the consumer and its loop
    took = wait_until(
        fails("worker-alive", folder), MAX_AGE + 3, "liveness failing", folder.parent / "log"
    )
    assert took >= MAX_AGE - INTERVAL - 0.1  # not before the file is really stale
    answer = probe("worker-alive", folder)
    assert "worker.alive is" in answer.stderr and "the worker is stuck" in answer.stderr
    process.send_signal(signal.SIGCONT)
    wait_until(passes("worker-alive", folder), 5, "liveness back", folder.parent / "log")
    assert probe("worker-ready", folder).returncode == 0


@needs_redis_server
def test_a_broker_outage_fails_readiness_and_never_liveness(worker):
    _, server, folder = worker
    server.stop()
    # While the consumer restarts its steps (1-2 s here; over 15 s was seen with both
    # render suites and the template's tests on two cores) the file may age before the
    # connecting thread takes it over: readiness may first say "stuck".
    wait_until(
        lambda: "not consuming" in probe("worker-ready", folder).stderr,
        45,
        "readiness failing: not consuming",
        folder.parent / "log",
    )
    # Reconnecting for twice the probe's limit: the worker is alive throughout.
    assert holds_for("worker-alive", folder, 2 * MAX_AGE)
    server.start()  # the same port: the worker's URL works again
    wait_until(passes("worker-ready", folder), 45, "readiness back", folder.parent / "log")


@needs_redis_server
def test_the_worker_outlives_broker_restarts_and_consumes_after_each(worker):
    """Redis restarted (keeping nothing) after short and long outages: the worker reconnects
    each time, never exits, and takes the task sent after each restart."""
    process, server, folder = worker
    log = folder.parent / "log"
    broker = redis.Redis.from_url(server.url)
    for outage in (0.1, 1.0, 3.0):
        server.stop()
        time.sleep(outage)
        server.start()
        wait_until(passes("worker-ready", folder), 45, f"ready after {outage} s out", log)
        assert process.poll() is None, log.read_text()[-4000:]
        Celery(broker=server.url).send_task("no.such.task", queue="probes")
        wait_until(lambda: broker.llen("probes") == 0, 30, "the task taken", log)
    assert holds_for("worker-alive", folder, 1)
    # Running tasks are kept on a lost connection, knowingly (settings): no warning each time.
    assert "cancel_long_running_tasks_on_connection_loss" not in log.read_text()


@needs_redis_server
def test_a_stopped_worker_leaves_no_file_that_passes(worker):
    process, _, folder = worker
    process.terminate()
    process.wait(timeout=20)
    for name in ("worker-alive", "worker-ready"):
        answer = probe(name, folder)
        assert answer.returncode == 1
        assert "has not started, or stopped" in answer.stderr


@needs_redis_server
def test_systemd_hears_from_a_running_worker_only(tmp_path):
    """With WatchdogSec, systemd sets NOTIFY_SOCKET and WATCHDOG_USEC; here a socket of ours."""
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(address)
        notify.settimeout(30)
        env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "60000000"}
        with (
            redis_server() as server,
            celery(WORKER_ARGS, server, tmp_path / "probes", tmp_path / "log", **env) as process,
        ):
            assert notify.recv(64) == b"WATCHDOG=1"
            process.send_signal(signal.SIGSTOP)
            time.sleep(2 * INTERVAL)  # a message sent just before the stop
            notify.setblocking(False)
            with suppress(BlockingIOError):
                while notify.recv(64):
                    pass
            notify.settimeout(4 * INTERVAL)
            with pytest.raises(TimeoutError):
                notify.recv(64)
            process.send_signal(signal.SIGCONT)
            notify.settimeout(5)
            assert notify.recv(64) == b"WATCHDOG=1"


@needs_redis_server
def test_beat_liveness_follows_its_ticks(tmp_path):
    folder = tmp_path / "probes"
    args = ["--quiet", "beat", "--schedule", str(tmp_path / "schedule"), "--loglevel=INFO"]
    assert "has not started" in probe("beat-alive", folder).stderr
    with redis_server() as server, celery(args, server, folder, tmp_path / "log") as beat:
        wait_until(passes("beat-alive", folder), 60, "beat alive", folder.parent / "log")
        assert holds_for("beat-alive", folder, 2 * MAX_AGE)  # ticks keep it fresh
        beat.send_signal(signal.SIGSTOP)
        wait_until(
            fails("beat-alive", folder), MAX_AGE + 3, "beat liveness failing", folder.parent / "log"
        )
        assert "the beat is stuck" in probe("beat-alive", folder).stderr
        beat.send_signal(signal.SIGCONT)
        wait_until(passes("beat-alive", folder), 5, "beat liveness back", folder.parent / "log")


def test_fresh_stale_and_missing_files(tmp_path):
    assert "no " in probe("worker-alive", tmp_path).stderr
    (tmp_path / "worker.alive").touch()
    assert probe("worker-alive", tmp_path).returncode == 0
    assert "not consuming" in probe("worker-ready", tmp_path).stderr
    (tmp_path / "worker.ready").touch()
    assert probe("worker-ready", tmp_path).returncode == 0
    old = time.time() - 2 * MAX_AGE
    os.utime(tmp_path / "worker.alive", (old, old))
    for name in ("worker-alive", "worker-ready"):
        answer = probe(name, tmp_path)
        assert answer.returncode == 1
        # 2 x the limit old when written, a second more if the probe starts late.
        alive = re.escape(str(tmp_path / "worker.alive"))
        ages = f"({2 * MAX_AGE}|{2 * MAX_AGE + 1})"
        assert re.search(rf"{alive} is {ages} s old \(limit {MAX_AGE} s\)", answer.stderr)


@pytest.mark.parametrize(
    "argv",
    [[], ["worker"], ["worker-alive", "beat-alive"], ["beat-alive", "soon"],
     ["beat-alive", "-1"], ["beat-alive", "1", "2"]],
)  # fmt: skip
def test_a_wrong_command_line_gets_the_usage(argv):
    answer = subprocess.run(
        ["sh", "scripts/celery_probe.sh", *argv],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert answer.returncode == 2
    assert answer.stderr.startswith("usage: celery_probe.sh worker-alive | worker-ready")


@pytest.mark.parametrize("own_tmpdir", [False, True])
def test_the_probe_and_the_settings_agree_on_the_folder(own_tmpdir, tmp_path):
    env = clean_env()
    for name in ("CELERY_PROBE_DIR", "TMPDIR", "TEMP", "TMP"):
        env.pop(name, None)
    if own_tmpdir:
        env["TMPDIR"] = str(tmp_path)
    [folder] = settings_values(env, "CELERY_PROBE_DIR")
    answer = probe("beat-alive", Path(), "0", env=env)  # a limit no file meets
    assert answer.returncode == 1
    assert f" {folder}/beat.alive" in answer.stderr  # missing, or left by another run
