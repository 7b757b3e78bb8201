"""The default render's own suite on this machine's services, and its README's quick start.

The all-off render's suite is in test_generated_project_all_off.py, a file of its own so
that the two (the longest tests here) run side by side (tests/render_suites.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from venvs import venv_for

from .render_suites import run_render_suite


@pytest.mark.slow
def test_default_render_suite_passes_on_real_services(bake, service_env):
    """The default render keeps the `.env` the generator wrote, as a developer's machine has it."""
    run_render_suite(bake(), service_env, prometheus=True)


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
