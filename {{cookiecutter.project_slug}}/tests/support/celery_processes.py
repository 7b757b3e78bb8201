"""Real `celery` processes for tests, run from the project folder and always stopped after."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..conftest import PROJECT_DIR


def start_celery(args: list[str], log: Path, env: dict[str, str], **popen: object):
    """`celery -A config.celery_app *args`, its output appended to `log`."""
    with open(log, "a") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config.celery_app", *args],
            cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, **popen,
        )  # fmt: skip


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM (after SIGCONT, should a test have stopped it), then SIGKILL after `timeout`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def celery_process(args: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = start_celery(args, log, env)
    try:
        yield process
    finally:
        stop(process)


def wait_until(condition: Callable[[], object], timeout: float, what: str, log: Path) -> float:
    """Seconds it took for `condition` to hold; fails with the log's end after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.1)
    tail = log.read_text()[-4000:] if log.exists() else "(no log)"
    pytest.fail(f"{what}: not within {timeout} s\n{tail}")
