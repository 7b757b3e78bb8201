"""Install renders and run their own test suites against this machine's services.

The default render and the all-off render each run their full suite on the real
PostgreSQL and Redis (a database and a Redis db of their own, tests/services.py, so
the two can run side by side under xdist), then `check --deploy` with production
settings. The default render keeps the `.env` the generator wrote, as a developer's
machine has it; the all-off render runs without one, as the render's CI does on a
fresh clone.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from venvs import venv_for


@pytest.mark.slow
def test_the_default_render_s_suite_passes_on_real_services(bake, service_env):
    """With the `.env` the generator wrote, as a developer's machine has it."""
    run_generated_suite(bake, service_env, {}, keep_env_file=True)


def render_env(service_env: dict[str, str]) -> dict[str, str]:
    """This environment for a render's own tests: theirs, not this session's pytest's or
    Django's, with the test's own database and Redis."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    return {**inherited, **service_env}


def run_render_pytest(
    python: Path, project: Path, env: dict[str, str], *args: str, timeout: float
) -> tuple[int, str, str]:
    """The render's pytest with these arguments: its exit status, stdout and stderr.

    In a session of its own, so that a timeout kills the servers and workers it started
    too. The slowest tests are listed, and a test still running after 240 s has its
    threads' stacks dumped (pytest's faulthandler): a timeout then says where it was.
    """
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    command += ["--durations=15", "-o", "faulthandler_timeout=240"]
    with subprocess.Popen(
        command, cwd=project, env=env, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as suite:  # fmt: skip
        try:
            stdout, stderr = suite.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(suite.pid, signal.SIGKILL)
            stdout, stderr = suite.communicate()
            pytest.fail(
                f"the render's tests ran over {timeout} s:\n{stdout[-6000:]}\n{stderr[-6000:]}"
            )
    return suite.returncode, stdout, stderr


def run_generated_suite(bake, service_env, answers: dict[str, str], keep_env_file: bool) -> None:
    """Render, run the render's whole suite on the real services, then `check --deploy`.

    Each render has a test file of its own (the all-off one: test_generated_all_off.py):
    `--dist loadfile` then runs the two suites side by side, not one after the other.
    """
    project = bake(**answers)
    if not keep_env_file:
        (project / ".env").unlink()
    env = render_env(service_env)
    prometheus = answers.get("use_prometheus", "y") == "y"
    if prometheus:
        # The render's users may skip its real-Prometheus tests; this suite must not.
        missing = [tool for tool in ("prometheus", "promtool") if not shutil.which(tool)]
        assert not missing, f"{missing} not installed: apt-get install prometheus (.ci/run does)"
        env["REQUIRE_PROMETHEUS"] = "1"
    python = venv_for(project) / "bin" / "python"
    # Two processes: most of the suite waits on real workers, servers and Prometheus.
    returncode, stdout, stderr = run_render_pytest(python, project, env, "-n", "2", timeout=1200)
    assert returncode == 0, stdout[-8000:] + stderr[-4000:]
    assert " passed" in stdout.splitlines()[-1]
    # Its -ra summary names every skipped test. Those that need a program (redis-server
    # for the Celery probe tests, Prometheus) may skip on a user's machine, not here.
    must_run = (
        r"tests/(metrics/|test_celery_probes\.py)"
        if prometheus
        else r"tests/test_celery_probes\.py"
    )
    skipped = re.findall(rf"^SKIPPED .*{must_run}.*$", stdout, re.MULTILINE)
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


def readme_postgresql_steps(project: Path) -> str:
    """The README's PostgreSQL quick start, as a shell script ending with `make migrate`."""
    block = project.joinpath("README.md").read_text().split("export DATABASE_URL=", 1)[1]
    block = "export DATABASE_URL=" + block.split("```", 1)[0]
    steps = []
    for line in block.splitlines():
        if line.startswith("make "):
            return "\n".join([*steps, "make migrate"])
        steps.append(line)
    raise AssertionError(f"no make command in the README's PostgreSQL block:\n{block}")


@pytest.mark.slow
def test_readme_postgresql_quick_start_migrates_on_a_fresh_server(bake):
    """Its commands, as written, on a server where the project's database does not exist yet."""
    slug = "readme_quick_start"  # the database's name too; a fixed one keeps its venv cached
    project = bake(project_slug=slug)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        # The render's Makefile runs manage.py with $(VENV)/bin/python.
        "VENV": str(venv_for(project)),
    }
    dropdb = ["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", slug]
    subprocess.run(dropdb, env=env, capture_output=True, check=True, timeout=60)
    steps = readme_postgresql_steps(project)
    try:
        run = subprocess.run(
            ["bash", "-euc", steps],
            cwd=project, env=env, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, f"{steps}\n{run.stdout[-4000:]}{run.stderr[-4000:]}"
        applied = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", slug, "-tAc",
             "SELECT count(*) FROM django_migrations"],
            env=env, capture_output=True, text=True, check=True, timeout=30,
        )  # fmt: skip
        assert int(applied.stdout) > 0
    finally:
        subprocess.run(dropdb, env=env, capture_output=True, check=False, timeout=60)
