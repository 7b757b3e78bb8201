"""Install renders and run their own test suites against this machine's services.

The default render and the all-off render each run their full suite on the real
PostgreSQL and Redis (a database and a Redis db of their own, tests/services.py, so
the two can run side by side under xdist), then `check --deploy` with production
settings.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from venvs import venv_for

from .conftest import ALL_OFF

RENDERS = {
    "defaults": {},
    "all-off": ALL_OFF,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", RENDERS)
def test_generated_suite_passes_on_real_services(bake, service_env, name):
    project = bake(**RENDERS[name])
    python = venv_for(project) / "bin" / "python"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))},
        **service_env,
    }
    suite = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert suite.returncode == 0, suite.stdout[-8000:] + suite.stderr[-4000:]
    assert " passed" in suite.stdout.splitlines()[-1]

    deploy = subprocess.run(
        [python, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=project,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 64
            + "-production-like-secret-with-enough-entropy-0123456789",
            "ENVIRONMENT": "production",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
