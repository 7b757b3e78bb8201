"""The default and the all-off renders are clean under their own `mypy` (strict, django-stubs).

mypy runs from the render's venv (scripts/venvs.py), as its `make lint` and CI do, with the
settings of the render's pyproject.toml. Its cache lives in the repo's `.cache/mypy/`, one
folder per render shape: the stubs of the standard library, Django and Celery, most of the
work, are checked once and reused (cold about 30 s a render, warm a few seconds).
"""

from __future__ import annotations

import subprocess

import pytest
from venvs import venv_for

from .conftest import ALL_OFF, REPO_DIR

RENDERS = {"defaults": {}, "all-off": ALL_OFF}


@pytest.mark.slow
@pytest.mark.parametrize("name", RENDERS)
def test_render_is_type_clean(bake, name):
    project = bake(**RENDERS[name])
    mypy = venv_for(project) / "bin" / "mypy"
    cache = REPO_DIR / ".cache" / "mypy" / name
    result = subprocess.run(
        [mypy, "--cache-dir", cache, "--no-color-output"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # Each finding is one `file:line: error: ... [code]` line.
    assert result.returncode == 0, result.stdout + result.stderr
