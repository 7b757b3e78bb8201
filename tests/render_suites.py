"""Run a render's own test suite against this machine's services.

Each render runs its full suite on the real PostgreSQL and Redis (a database and a
Redis db of its own, tests/services.py), then `check --deploy` with production
settings. The default and the all-off renders each have a test file of their own, so
that xdist (`--dist loadfile`) runs the two side by side: they are the suite's two
longest tests (about 3 minutes each).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from venvs import venv_for


def run_render_suite(project: Path, service_env: dict[str, str], prometheus: bool) -> None:
    """The render's suite with two processes, then `check --deploy`; fails on either."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))},
        **service_env,
    }
    if prometheus:
        # The render's users may skip its real-Prometheus tests; this suite must not.
        missing = [tool for tool in ("prometheus", "promtool") if not shutil.which(tool)]
        assert not missing, f"{missing} not installed: apt-get install prometheus (.ci/run does)"
        env["REQUIRE_PROMETHEUS"] = "1"
    python = venv_for(project) / "bin" / "python"
    suite = subprocess.run(
        # Two processes: most of the suite waits on real workers, servers and Prometheus.
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert suite.returncode == 0, suite.stdout[-8000:] + suite.stderr[-4000:]
    assert " passed" in suite.stdout.splitlines()[-1]
    # Its -ra summary names every skipped test. Those that need a program (redis-server
    # for the Celery probe tests, Prometheus) may skip on a user's machine, not here.
    must_run = (
        r"tests/(metrics/|test_celery_probes\.py)"
        if prometheus
        else r"tests/test_celery_probes\.py"
    )
    skipped = re.findall(rf"^SKIPPED .*{must_run}.*$", suite.stdout, re.MULTILINE)
    assert not skipped, skipped

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
