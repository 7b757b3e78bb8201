"""Virtual environments for rendered projects, shared between renders.

A render's dependencies depend only on its pyproject.toml, so one venv per
distinct pyproject (keyed by its hash) serves every render of that shape. The
project itself is not installed: tests and servers run from the render folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_DIR / ".cache" / "venvs"
UV = Path(sys.executable).parent / "uv"


def venv_for(project_dir: Path, extras: tuple[str, ...] = ("dev",)) -> Path:
    """Return the venv folder for this render, creating it once (process-safe)."""
    pyproject = (project_dir / "pyproject.toml").read_bytes()
    key = hashlib.sha256(pyproject + ",".join(extras).encode()).hexdigest()[:16]
    venv = CACHE_DIR / key
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            _create(venv, project_dir, extras)
    return venv


def _create(venv: Path, project_dir: Path, extras: tuple[str, ...]) -> None:
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, venv], check=True)
    command = [UV, "pip", "install", "-q", "--python", venv / "bin" / "python"]
    command += ["-r", project_dir / "pyproject.toml"]
    for extra in extras:
        command += ["--extra", extra]
    subprocess.run(command, check=True)
    (venv / ".complete").touch()
