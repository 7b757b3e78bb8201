"""The render's Sentry tests on sentry-sdk's 3.x pre-release, in a venv of their own.

The render allows sentry-sdk>=2.70,<4: its code runs on both lines, the differences
in monitoring/sentry/_sdk_compat.py. Its own venv holds the newest 2.x; this test
runs its tests/sentry on the 3.x line (the render's dev dependencies with sentry-sdk
overridden, a venv cached like every render's), stopping at the first failure. It
skips only when no 3.x pre-release can be installed. Last run against 3.0.0b2.
"""

from __future__ import annotations

import subprocess

import pytest
from venvs import venv_for

from .test_generated_project import render_env, run_render_pytest

SDK3_REQUIREMENT = "sentry-sdk>=3.0.0a1,<4"


@pytest.mark.slow
@pytest.mark.sdk3
def test_the_render_sentry_tests_pass_on_sentry_sdk_3(bake, service_env):
    project = bake()
    try:
        venv = venv_for(project, overrides=(SDK3_REQUIREMENT,))
    except subprocess.CalledProcessError as error:
        pytest.skip(
            f"no sentry-sdk 3.x pre-release can be installed ({SDK3_REQUIREMENT}): "
            f"uv exited with {error.returncode}"
        )
    python = venv / "bin" / "python"
    version = subprocess.run(
        [python, "-c", "import sentry_sdk; print(sentry_sdk.VERSION)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("3."), f"the override installed sentry-sdk {version}"
    env = render_env(service_env)
    returncode, stdout, _ = run_render_pytest(
        python, project, env, "-x", "tests/sentry", timeout=600
    )
    assert returncode == 0, f"sentry-sdk {version}:\n{stdout[-6000:]}"
