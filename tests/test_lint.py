"""The template's own code (hooks, scripts, tests, benchmarks) is ruff-clean too."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_DIR

RUFF = Path(sys.executable).parent / "ruff"
OWN_CODE = ["hooks", "scripts", "tests", "bench", "local_extensions.py"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_template_code_is_ruff_clean(command):
    result = subprocess.run(
        [RUFF, *command, "--no-cache", *OWN_CODE],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
