"""Deploy artifacts of the default render, read and run without a container engine.

No Docker engine here: the Dockerfile and compose.yaml are parsed for the properties
deployments rely on, the entry point runs under `sh` with a stand-in `python`, and
every deploy target is checked to run the Procfile's commands (the ones the
end-to-end test runs). The wheel check proves pyproject's package selection.
"""

from __future__ import annotations

import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from .artifacts import (
    dockerfile_instructions,
    dockerignore_patterns,
    dockerignored,
    exec_form,
    procfile,
)


@pytest.fixture(scope="module")
def project(cookies_session) -> Path:
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


def test_dockerfile_builds_a_small_non_root_image_with_a_health_check(project):
    instructions = dockerfile_instructions(project)
    stages = [i for i, (name, _) in enumerate(instructions) if name == "FROM"]
    assert len(stages) >= 2, "multi-stage build expected"
    assert all("-slim" in instructions[i][1] for i in stages)
    runtime = instructions[stages[-1] :]
    by_name: dict[str, list[str]] = {}
    for name, arguments in runtime:
        by_name.setdefault(name, []).append(arguments)

    # Only the build stage's venv is copied in: no compiler or dev tools at run time.
    assert any(arguments.startswith("--from=") for arguments in by_name["COPY"])
    [user] = by_name["USER"]
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"USER {user} is not a numeric non-root id"
    assert runtime.index(("USER", user)) > max(
        i for i, (name, _) in enumerate(runtime) if name == "RUN"
    ), "USER comes after every RUN"
    [healthcheck] = by_name["HEALTHCHECK"]
    assert "/health/live/" in healthcheck and "CMD" in healthcheck
    assert "RELEASE_VERSION" in " ".join(by_name["ARG"])
    assert re.search(r"\bRELEASE_VERSION=\$\{?RELEASE_VERSION\}?", " ".join(by_name["ENV"]))
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in " ".join(by_name["ENV"])
    assert exec_form(by_name["ENTRYPOINT"][-1]) == ["/app/docker-entrypoint.sh"]
    assert exec_form(by_name["CMD"][-1]) == procfile(project)["web"][-1]

    ignored = (project / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


# Files a developer's machine makes that must never be committed nor copied into an image.
PRIVATE_FILES = (".env", ".env.production", ".env.staging", "celerybeat-schedule",
                 "celerybeat-schedule.db", "celerybeat-schedule.dat")  # fmt: skip


def test_env_files_and_beat_schedules_stay_out_of_git_and_images(project, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(project, repo)
    subprocess.run(["git", "init", "-q", repo], check=True)
    for name in PRIVATE_FILES:
        (repo / name).write_text("SECRET=1\n")
    ignored = subprocess.run(
        ["git", "-C", repo, "check-ignore", "--no-index", *PRIVATE_FILES, ".env.example"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    assert ignored == list(PRIVATE_FILES)  # and not .env.example

    patterns = dockerignore_patterns(project)
    assert all(dockerignored(name, patterns) for name in PRIVATE_FILES)


def test_template_update_files_stay_out_of_images(project):
    patterns = dockerignore_patterns(project)
    for name in (".cruft.json", "config/settings/base.py.rej", "docs/health.md.rej"):
        assert dockerignored(name, patterns), name
    assert not dockerignored("config/settings/base.py", patterns)


def probe_command(probe: str) -> list[str]:
    return ["sh", "scripts/celery_probe.sh", probe]


def exec_probes(manifest: dict) -> list[list[str]]:
    containers = manifest["spec"]["template"]["spec"]["containers"]
    return [
        container[kind]["exec"]["command"]
        for container in containers
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        if "exec" in container.get(kind, {})
    ]


def test_every_celery_probe_command_runs_in_the_image(project):
    """Each probe the deploy files run names the script, which ships and knows the probe."""
    commands = [
        ["CMD", *exec_probe]
        for path in ("deploy/k8s/worker.yaml", "deploy/k8s/beat.yaml")
        for exec_probe in exec_probes(yaml.safe_load((project / path).read_text()))
    ]
    compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    commands += [compose[name]["healthcheck"]["test"] for name in ("worker", "beat")]
    assert len(commands) == 7  # worker: startup, liveness, readiness; beat: two; compose: two
    assert not dockerignored("scripts/celery_probe.sh", dockerignore_patterns(project))
    for command in commands:
        assert command[:3] == ["CMD", "sh", "scripts/celery_probe.sh"], command
        answer = subprocess.run(
            command[1:], cwd=project, capture_output=True, text=True, check=False,
            env={"PATH": os.environ["PATH"], "CELERY_PROBE_DIR": str(project / "none")},
        )  # fmt: skip
        # No process keeps the files here: the probe fails as it should, with a sentence.
        assert answer.returncode == 1, (command, answer.stderr)
        assert "has not started, or stopped" in answer.stderr


def test_compose_waits_for_healthy_services_and_reads_dot_env(project):
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= services.keys()
    for name in ("postgres", "redis", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
    # web uses the image's HEALTHCHECK; the worker and beat, their probe files.
    assert "healthcheck" not in services["web"]
    for name, probe in (("worker", "worker-alive"), ("beat", "beat-alive")):
        assert services[name]["healthcheck"]["test"] == ["CMD", *probe_command(probe)]

    commands = {name: steps[-1] for name, steps in procfile(project).items()}
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["env_file"] in (".env", [".env"]), name
        depends = service["depends_on"]
        assert depends["redis"] == {"condition": "service_healthy"}, name
        for dependency, rule in depends.items():
            assert rule["condition"] in ("service_healthy", "service_completed_successfully")
            assert dependency in services
        if name != "web":  # web runs the image's CMD (checked against the Procfile above)
            assert service["command"][: len(commands[name])] == commands[name], name
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_every_deploy_target_runs_the_procfile_commands(project):
    """systemd units and Kubernetes manifests start what the Procfile (and the e2e) runs."""
    commands = procfile(project)
    targets = {}
    for name in ("web", "worker", "beat"):
        unit = (project / "deploy" / "systemd" / f"{name}.service").read_text()
        steps = re.findall(r"^ExecStart(?:Pre)?=(.+)$", unit, re.MULTILINE)
        targets[f"systemd {name}"] = [shlex.split(step) for step in steps]
    for name in ("worker", "beat"):
        manifest = yaml.safe_load((project / "deploy" / "k8s" / f"{name}.yaml").read_text())
        [container] = manifest["spec"]["template"]["spec"]["containers"]
        targets[f"k8s {name}"] = [container["command"]]
    for target, steps in targets.items():
        expected = commands[target.split()[-1]]
        if target.startswith("k8s"):  # the image already holds the collected static files
            expected = expected[-1:]
        assert len(steps) == len(expected), target
        for argv, want in zip(steps, expected, strict=True):
            assert [Path(argv[0]).name, *argv[1 : len(want)]] == want, target


def run_entrypoint(project: Path, tmp_path: Path, **env: str) -> tuple[int, str, list[str]]:
    """Run docker-entrypoint.sh with sh; `python` is a stand-in that records its arguments."""
    calls = tmp_path / "python-calls"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    fake_python = fake_bin / "python"
    fake_python.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\nexit "${{FAKE_STATUS:-0}}"\n'
    )
    fake_python.chmod(0o755)
    result = subprocess.run(
        ["sh", "docker-entrypoint.sh", "echo", "command", "ran"],
        cwd=project,
        env={"PATH": f"{fake_bin}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    recorded = calls.read_text().splitlines() if calls.exists() else []
    calls.unlink(missing_ok=True)
    return result.returncode, result.stdout, recorded


def test_entrypoint_migrates_only_when_asked(project, tmp_path):
    assert run_entrypoint(project, tmp_path) == (0, "command ran\n", [])
    assert run_entrypoint(project, tmp_path, DJANGO_MIGRATE_ON_START="0")[2] == []
    status, output, calls = run_entrypoint(project, tmp_path, DJANGO_MIGRATE_ON_START="1")
    assert (status, output, calls) == (0, "command ran\n", ["manage.py migrate --noinput"])
    # A failed migration stops the container instead of serving the old schema.
    status, output, calls = run_entrypoint(
        project, tmp_path, DJANGO_MIGRATE_ON_START="1", FAKE_STATUS="3"
    )
    assert status != 0 and output == "" and calls == ["manage.py migrate --noinput"]


def test_the_wheel_holds_every_module_of_config_and_the_package(project, tmp_path):
    uv = Path(sys.executable).parent / "uv"
    subprocess.run(
        [uv, "build", "--wheel", "-q", "--out-dir", tmp_path, project],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob("*.whl")
    packaged = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".py")}
    sources = {
        path.relative_to(project).as_posix()
        for folder in ("config", project.name)
        for path in (project / folder).rglob("*.py")
    }
    assert f"{project.name}/monitoring/health/views.py" in sources
    assert sources == packaged


def test_the_image_leaves_out_tests_and_docs_and_its_code_is_read_only(project):
    patterns = dockerignore_patterns(project)
    for left_out in ("tests/test_settings.py", "tests/support/loopback.py", "docs/deploy.md"):
        assert dockerignored(left_out, patterns), left_out
    for shipped in ("manage.py", "scripts/celery_probe.sh", "config/settings/production.py"):
        assert not dockerignored(shipped, patterns), shipped
    # The context is copied as root's: the app's user (USER) can read it, not change it.
    copies = [args for name, args in dockerfile_instructions(project) if name == "COPY"]
    context_copies = [args for args in copies if not args.startswith("--from=")]
    assert context_copies and not any("--chown" in args for args in context_copies)


def healthcheck_command(project: Path) -> list[str]:
    [arguments] = [args for name, args in dockerfile_instructions(project) if name == "HEALTHCHECK"]
    return exec_form(arguments.split(" CMD ", 1)[1])


class LiveOnly(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health/live/" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("variable", ["GUNICORN_BIND", "PORT"])
def test_the_image_healthcheck_probes_the_port_gunicorn_binds(project, variable):
    """Not a fixed 8000: the port of GUNICORN_BIND, else $PORT (gunicorn.conf.py's rule)."""
    command = healthcheck_command(project)
    assert command[0] == "python"
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), LiveOnly) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        value = f"127.0.0.1:{port}" if variable == "GUNICORN_BIND" else str(port)
        env = {"PATH": os.environ["PATH"], variable: value}
        run = [sys.executable, *command[1:]]
        passed = subprocess.run(run, env=env, capture_output=True, timeout=30, check=False)
        assert passed.returncode == 0, passed.stderr
        server.shutdown()
    # Nothing listens there any more: the check fails.
    failed = subprocess.run(run, env=env, capture_output=True, timeout=30, check=False)
    assert failed.returncode != 0
