"""Render every combination of the y/n options and read what comes out."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ALL_OFF, combo_id, option_matrix

RUFF = Path(sys.executable).parent / "ruff"
# "}}" is left out: Python dict literals end with it.
JINJA_LEFTOVER = re.compile(r"{{|{%|%}|{#|cookiecutter")
# Words that must not appear anywhere (paths or contents) once all the options named are off.
TRACES = {
    ("use_sentry",): re.compile(r"sentry|slack|pagerduty|error monitoring", re.I),
    # seccompProfile, the Kubernetes field, is no trace of Sentry profiling.
    ("use_sentry_profiling",): re.compile(r"(?<!seccomp)profil", re.I),
    ("use_prometheus",): re.compile(r"prometheus|grafana|\bmetrics\b", re.I),
    ("use_kubernetes",): re.compile(r"kubernetes|k8s|kubectl|kubelet|kind: Deployment", re.I),
    # Alerts come from Sentry (webhooks to Slack, PagerDuty, e-mail) and Prometheus (rules).
    ("use_sentry", "use_prometheus"): re.compile(r"alert", re.I),
}
# Legitimate uses of those words, removed before looking for traces.
LEGITIMATE = re.compile(
    "|".join(
        (
            # monitor.py's health checks for cron and Nagios keep docs/alerting.md (titled
            # "Monitoring checks" when Sentry is off): its path, and links to it.
            r"docs/alerting\.md",
            r"job-failure alerts",  # the Kubernetes cluster's own (docs/alerting.md)
            r"<script>alert\(1\)</script>",  # markup in a forged request id (test_middleware.py)
            r"\n  metrics:\n    - type: Resource",  # a HorizontalPodAutoscaler's (autoscaling.yaml)
        )
    )
)
# Files whose contents legitimately hold braces (GitHub expressions, JSON dashboards).
BRACES_ALLOWED = {
    ".github/workflows/ci.yml",
    "deploy/monitoring/grafana-dashboard.json",
    "deploy/monitoring/prometheus-rules.yaml",
}


def text_files(root: Path) -> dict[str, str]:
    files = {}
    for path in root.rglob("*"):
        if path.is_file() and ".venv" not in path.parts:
            files[path.relative_to(root).as_posix()] = path.read_text()
    return files


def without_legitimate(name: str, text: str) -> str:
    """The file's path and contents, minus the legitimate uses of trace words."""
    return LEGITIMATE.sub("", f"{name}\n{text}")


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RUFF, *args, "--no-cache", "."], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("combo", option_matrix(), ids=combo_id)
def test_render(bake, combo):
    project = bake(**combo)
    files = text_files(project)

    leftovers = [
        name
        for name, text in files.items()
        if name not in BRACES_ALLOWED and JINJA_LEFTOVER.search(text)
    ]
    assert not leftovers, f"unrendered Jinja in {leftovers}"

    # .env is .env.example plus a random secret key, which may spell anything.
    searched = {name: without_legitimate(name, text) for name, text in files.items()}
    searched.pop(".env")
    traces = {}
    for options, pattern in TRACES.items():
        if all(combo[option] == "n" for option in options):
            for name, text in searched.items():
                if found := {match.group() for match in pattern.finditer(text)}:
                    traces.setdefault(name, set()).update(found)
    assert not traces, f"switched-off options leave traces: {traces}"

    lint = ruff("check", cwd=project)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatting = ruff("format", "--check", cwd=project)
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr


def test_defaults_render_the_documented_project(bake):
    project = bake()
    assert project.name == "my_project"
    for relative in (
        "manage.py",
        "pyproject.toml",
        "config/celery_app.py",
        "config/settings/base.py",
        "config/settings/local.py",
        "config/settings/test.py",
        "config/settings/production.py",
        "my_project/monitoring/apps.py",
        "my_project/orders/tasks.py",
        ".env.example",
        ".github/workflows/ci.yml",
        ".pre-commit-config.yaml",
        "README.md",
        "Makefile",
    ):
        assert (project / relative).is_file(), relative


def test_env_file_gets_a_fresh_secret_key_and_admin_path(bake):
    first, second = bake(project_slug="first_app"), bake(project_slug="second_app")

    def value(project: Path, name: str) -> str:
        env = project / ".env"
        assert stat.S_IMODE(env.stat().st_mode) == 0o600
        (line,) = [x for x in env.read_text().splitlines() if x.startswith(f"{name}=")]
        return line.removeprefix(f"{name}=")

    assert len(value(first, "DJANGO_SECRET_KEY")) >= 50
    assert value(first, "DJANGO_SECRET_KEY") != value(second, "DJANGO_SECRET_KEY")
    assert re.fullmatch(r"admin-[0-9a-f]{12}/", value(first, "DJANGO_ADMIN_URL"))
    assert value(first, "DJANGO_ADMIN_URL") != value(second, "DJANGO_ADMIN_URL")
    # The developer's machine runs local settings; the example leaves the secrets empty.
    assert value(first, "DJANGO_SETTINGS_MODULE") == "config.settings.local"
    example = (first / ".env.example").read_text()
    assert "DJANGO_SECRET_KEY=\n" in example and "DJANGO_ADMIN_URL=\n" in example


def test_a_render_with_another_slug_names_only_that_slug(bake):
    project = bake(project_slug="shop_floor")
    leaks = [name for name, text in text_files(project).items() if "my_project" in text]
    assert leaks == []


def test_sentry_answers_are_ignored_when_sentry_is_off(bake):
    project = bake(
        use_sentry="n",
        sentry_traces_sample_rate="not a number",
        sentry_profiles_sample_rate="7",
        use_sentry_profiling="y",
    )
    assert not any("sentry" in text.lower() for text in text_files(project).values())


def test_all_off_removes_option_folders(bake):
    project = bake(**ALL_OFF)
    assert sorted(p.name for p in (project / "deploy").iterdir()) == ["systemd"]
    assert not (project / "my_project" / "monitoring" / "metrics").exists()
    # monitoring's own commands (migrate's JSON progress) belong to no option.
    commands = project / "my_project" / "monitoring" / "management" / "commands"
    assert sorted(p.name for p in commands.glob("*.py")) == ["__init__.py", "migrate.py"]
    assert not (project / "my_project" / "monitoring" / "sentry").exists()
    assert not (project / "my_project" / "alerting").exists()
    assert sorted(p.name for p in (project / "tests").iterdir() if p.is_dir()) == ["support"]
