"""The render's `make lock` / `make install-locked` and where the lock goes.

Resolving a lock needs the package index (uv can't resolve every platform's wheels from
its cache), so these tests read what make would run (`make -n`) rather than run it; the
targets were run by hand against the index when they were written.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

LOCK = "requirements.lock"


def make_dry_run(project: Path, target: str) -> str:
    result = subprocess.run(
        ["make", "-n", target], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_make_lock_pins_every_dependency_with_hashes(bake):
    commands = make_dry_run(bake(), "lock")
    assert "uv pip compile pyproject.toml --extra dev --universal" in commands
    assert "--generate-hashes" in commands
    assert f"--output-file {LOCK}" in commands


def test_make_install_locked_installs_only_what_the_lock_pins(bake):
    commands = make_dry_run(bake(), "install-locked").splitlines()
    assert f".venv/bin/python -m pip install --require-hashes -r {LOCK}" in commands
    assert ".venv/bin/python -m pip install --no-deps -e ." in commands


def test_the_lock_is_not_ignored_and_ci_installs_from_it(bake):
    project = bake()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    ignored = subprocess.run(["git", "check-ignore", "-q", LOCK], cwd=project, check=False)
    assert ignored.returncode == 1, f"{LOCK} is ignored by the render's .gitignore"
    ci = (project / ".github/workflows/ci.yml").read_text()
    assert ci.count("sh scripts/ci_install.sh") == 2  # the lint and the test job
    script = (project / "scripts/ci_install.sh").read_text()
    assert f"pip install --require-hashes -r {LOCK}" in script
