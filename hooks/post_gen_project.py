"""Turn the answers into the project: drop what an option switched off, write .env.

Runs inside the freshly rendered project folder. The helpers take plain
arguments so the template's unit tests can call them on a temporary folder.
"""

from __future__ import annotations

import secrets
import shlex
import shutil
import sys
from pathlib import Path

# Paths (relative to the project root) that belong to one option only. When the
# option is "n" they are removed; settings, dependencies and docs for the option
# are switched off in the templates themselves with {% raw %}{% if %}{% endraw %} blocks.
# Paths that need two options are listed under the second: alerting/metrics.py (and its
# test) under use_prometheus; they go with alerting/ when use_sentry is off.
OPTION_PATHS: dict[str, tuple[str, ...]] = {
    "use_sentry": (
        "{{ cookiecutter.project_slug }}/monitoring/sentry",
        "{{ cookiecutter.project_slug }}/alerting",
        "docs/sentry.md",
        "tests/sentry",
        "tests/alerting",
        "tests/support/sentry_stubs.py",
        "tests/support/sentry_issues_api.py",
        "tests/support/sentry_api_stub.py",
        "scripts/monitor_errors.py",
        "scripts/monitor_sentry.py",
        "scripts/monitor_trends.py",
        "deploy/k8s/monitor-cronjob.yaml",
        "deploy/sentry",
    ),
    "use_prometheus": (
        "{{ cookiecutter.project_slug }}/monitoring/metrics",
        "{{ cookiecutter.project_slug }}/alerting/metrics.py",
        "deploy/monitoring",
        "docs/metrics.md",
        "tests/metrics",
        "tests/alerting/test_alerting_metrics.py",
    ),
    "use_kubernetes": (
        "deploy/k8s",
        "tests/test_k8s_manifests.py",
    ),
}
# Folders that may be left empty once option paths are gone.
PRUNABLE_DIRS = (
    "deploy",
    "docs",
)


def remove_paths(root: Path, paths: tuple[str, ...]) -> None:
    for relative in paths:
        target = root / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def prune_empty_dirs(root: Path, dirs: tuple[str, ...]) -> None:
    """Remove folders whose only content is an __init__.py (or nothing)."""
    for relative in dirs:
        folder = root / relative
        if not folder.is_dir():
            continue
        if {entry.name for entry in folder.iterdir()} <= {"__init__.py"}:
            shutil.rmtree(folder)


def fresh_env_secrets() -> dict[str, str]:
    """A new secret key, and an admin path no scanner guesses."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ADMIN_URL": f"admin-{secrets.token_hex(6)}/",
    }


def write_env_file(root: Path, values: dict[str, str]) -> Path:
    """Copy .env.example to .env, filling in its empty `NAME=` lines from `values`.

    An existing .env is never overwritten.
    """
    env_file = root / ".env"
    if env_file.exists():
        return env_file
    lines = (root / ".env.example").read_text().splitlines()
    empty = {f"{name}=": name for name in values}
    lines = [f"{line}{values[empty[line]]}" if line in empty else line for line in lines]
    env_file.write_text("\n".join(lines) + "\n")
    env_file.chmod(0o600)
    return env_file


def apply_options(root: Path, options: dict[str, str]) -> None:
    for option, paths in OPTION_PATHS.items():
        if options[option] != "y":
            remove_paths(root, paths)
    prune_empty_dirs(root, PRUNABLE_DIRS)


def next_steps(project: str) -> str:
    """What to do next; `project` is the folder as typed where cookiecutter ran."""
    return f"""
Project ready in {project}

  cd {shlex.quote(project)}
  make install    # venv + dependencies
  make migrate    # SQLite by default; set DATABASE_URL for PostgreSQL
  make run        # http://127.0.0.1:8000/health/
  make test

.env holds this machine's settings only: production never reads it and takes its
variables from the environment (see docs/deploy.md).
"""


def main() -> int:
    root = Path.cwd()
    options = {
        "use_sentry": "{{ cookiecutter.use_sentry }}",
        "use_prometheus": "{{ cookiecutter.use_prometheus }}",
        "use_kubernetes": "{{ cookiecutter.use_kubernetes }}",
    }
    apply_options(root, options)
    write_env_file(root, fresh_env_secrets())
    # The output folder as typed where cookiecutter ran (local_extensions.py). cruft sets
    # none, and renders twice into temporary folders on each `cruft update`: no next
    # steps then (the README has them).
    output_dir = {{ cookiecutter._output_dir|default("")|from_invocation_dir|tojson }}  # fmt: skip
    if output_dir:
        print(next_steps(str(Path(output_dir, root.name))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
