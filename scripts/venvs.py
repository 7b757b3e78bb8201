"""Virtual environments shared between renders (and for tools such as Bugsink).

A render's dependencies depend only on its pyproject.toml, so one venv per
distinct pyproject (keyed by its hash) serves every render of that shape. The
project itself is not installed: tests and servers run from the render folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_DIR / ".cache" / "venvs"
UV = Path(sys.executable).parent / "uv"
# The Makefile exports the same; this default serves runs outside make (pytest alone).
UV_CACHE_DIR = REPO_DIR / ".cache" / "uv"


def uv_env(environ: Mapping[str, str]) -> dict[str, str]:
    """uv's environment: its download cache inside the repo unless the caller chose one."""
    return {"UV_CACHE_DIR": str(UV_CACHE_DIR), **environ}


def venv_for(
    project_dir: Path, extras: tuple[str, ...] = ("dev",), overrides: tuple[str, ...] = ()
) -> Path:
    """The venv with a render's dependencies (and extras), created once.

    `overrides` replace the render's own requirements of those packages (uv's
    --override), pre-releases allowed: e.g. ("sentry-sdk>=3.0.0a1,<4",).
    """
    pyproject = project_dir / "pyproject.toml"
    install = ["-r", str(pyproject)]
    for extra in extras:
        install += ["--extra", extra]
    key_material = pyproject.read_bytes() + ",".join(extras).encode()
    if overrides:
        listing = "\n".join(overrides) + "\n"
        key_material += listing.encode()
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(listing.encode()).hexdigest()[:16]
        override_file = CACHE_DIR / f"overrides-{digest}.txt"
        override_file.write_text(listing)
        install += ["--override", str(override_file), "--prerelease", "allow"]
    return shared_venv(key_material, install)


def venv_with(*requirements: str) -> Path:
    """A venv holding just these requirements, e.g. venv_with("bugsink>=2,<3")."""
    return shared_venv("\n".join(requirements).encode(), list(requirements))


def shared_venv(key_material: bytes, install_args: list[str]) -> Path:
    """Create the venv for this key once; safe when several processes ask at once."""
    key = hashlib.sha256(key_material).hexdigest()[:16]
    venv = CACHE_DIR / key
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            # --clear: start over if an earlier attempt was interrupted half-way.
            env = uv_env(os.environ)
            create = [UV, "venv", "-q", "--clear", "--python", sys.executable, venv]
            subprocess.run(create, check=True, env=env)
            install = [UV, "pip", "install", "-q", "--python", venv / "bin" / "python"]
            subprocess.run([*install, *install_args], check=True, env=env)
            (venv / ".complete").touch()
    return venv
