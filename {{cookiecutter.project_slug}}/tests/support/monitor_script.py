"""scripts/monitor.py run as cron or Nagios runs it: a subprocess, its exit code and output."""

from __future__ import annotations

import subprocess
import sys
import tempfile

from ..conftest import PROJECT_DIR, clean_env

MONITOR = PROJECT_DIR / "scripts" / "monitor.py"


def monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the script from another folder and without site-packages (-S): it must find its
    check modules next to it and need nothing but the standard library."""
    return subprocess.run(
        [sys.executable, "-S", str(MONITOR), *args],
        cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=30, check=False,
        env=clean_env(**(env or {})),
    )  # fmt: skip
