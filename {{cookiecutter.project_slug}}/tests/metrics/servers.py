"""gunicorn serving the project on loopback with multiprocess metrics, for the metrics tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..conftest import PROJECT_DIR, clean_env, free_port


def answers(url: str) -> bool:
    """Whether `url` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status == 200
    except OSError:
        return False


@contextmanager
def metrics_gunicorn(
    tmp_path: Path, planted: str, *options: str
) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """gunicorn.conf.py with 2 workers (and `options`); yields (url, metrics folder, master).

    A file named `planted` is left in the folder as an earlier run would: the master must
    empty the folder as it starts. Stopped with SIGINT (quick shutdown) after.
    """
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / planted).write_bytes(b"left by an earlier run")
    port = free_port()
    env = clean_env(DJANGO_SETTINGS_MODULE="config.settings.test")
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    command = [
        sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", *options, "config.wsgi",
    ]  # fmt: skip
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while process.poll() is not None or not answers(f"{url}/metrics"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not serve /metrics:\n{log.read_text()}")
            time.sleep(0.1)
        yield url, folder, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.returncode != 0:
            print(log.read_text())
