"""Every documented way of starting the default render, with only the documented variables.

Each deploy file (Procfile, systemd units, Dockerfile, compose.yaml, deploy/k8s) is read
for the commands it runs and the environment it gives them. Those commands then run on
this machine, on loopback, against the real PostgreSQL and Redis, in a copy of the project
holding what that path ships: the files git tracks (a `git push` or checkout), or what
the image holds (.dockerignore applied, static files collected by the Dockerfile's own
RUN line). No DJANGO_SETTINGS_MODULE, ENVIRONMENT or LOG_FORMAT is given unless the deploy
file itself sets it. Every path must land in production: DEBUG off, JSON lines only, the
right ENVIRONMENT and release, the admin's static files served.

No container engine here: an image's paths (/app, /opt/venv) map onto the copy and the
render's venv; a compose service's hostnames onto this machine's services.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from ports import free_port
from venvs import venv_for

from .artifacts import (
    dockerfile_instructions,
    dockerignore_patterns,
    dockerignored,
    exec_form,
    procfile_lines,
)
from .stack import Process, http, wait_for

pytestmark = pytest.mark.slow

DOMAIN = "example.com"  # the default answer: production's ALLOWED_HOSTS
ADMIN_URL = "back-office-5e1f/"
# What docs/deploy.md tells an operator to set, with values of this test (DATABASE_URL and
# REDIS_URL too: a database and a Redis db of the test's own, from `service_env`).
OPERATOR_VARIABLES = {
    "DJANGO_SECRET_KEY": "deploy-path-test-" + "0123456789abcdef" * 4,
    "RELEASE_VERSION": "deploy-test",
    "DJANGO_ADMIN_URL": ADMIN_URL,
}
# Documented variables too, with values that keep every server on loopback.
LOOPBACK_VARIABLES = {"METRICS_WORKER_ADDRESS": "127.0.0.1", "METRICS_WORKER_PORT": "0"}
# Browsers reach production through a TLS proxy that says so (SECURE_PROXY_SSL_HEADER),
# with a host name of DJANGO_ALLOWED_HOSTS (default: the domain answered at generation).
SITE_HEADERS = {"X-Forwarded-Proto": "https"}
LOG_FIELDS = {"timestamp", "level", "logger", "message", "environment", "release"}


@dataclass
class DeployPath:
    """How one deploy target starts the processes, read from its files."""

    folder: Path
    env: dict[str, str]
    release: list[list[str]] = field(default_factory=list)  # run once, before the processes
    processes: dict[str, list[str]] = field(default_factory=dict)  # web, worker, beat
    environment: str = "production"
    version: str = "deploy-test"


# --- what each path ships --------------------------------------------------------------
def git_files(project: Path, dest: Path) -> Path:
    """The files a `git push` or checkout holds: everything .gitignore lets through."""
    if not (project / ".git").exists():
        subprocess.run(["git", "init", "-q", project], check=True)
    listed = subprocess.run(
        ["git", "-C", project, "ls-files", "-co", "--exclude-standard", "-z"],
        check=True, capture_output=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / name, dest / name)
    return dest


def image_files(project: Path, dest: Path, env: dict[str, str]) -> Path:
    """What `COPY . .` puts in /app, then the Dockerfile's own collectstatic RUN line."""
    patterns = dockerignore_patterns(project)
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        if path.is_file() and not dockerignored(relative, patterns):
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / relative)
    [build] = [args for name, args in dockerfile_instructions(project) if "collectstatic" in args]
    result = subprocess.run(
        ["sh", "-c", build], cwd=dest, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"the Dockerfile's RUN {build} failed:\n{result.stderr}"
    return dest


def dockerfile_env(project: Path, venv: Path, base: dict[str, str]) -> dict[str, str]:
    """The runtime stage's ENV, /opt/venv mapped onto the render's venv."""
    instructions = dockerfile_instructions(project)
    runtime = instructions[max(i for i, (name, _) in enumerate(instructions) if name == "FROM") :]
    arguments = {"RELEASE_VERSION": "deploy-test", "PATH": base["PATH"]}
    env: dict[str, str] = {}
    for name, args in runtime:
        if name == "ENV":
            for assignment in shlex.split(args):
                key, _, value = assignment.partition("=")
                value = re.sub(r"\$\{?(\w+)\}?", lambda m: arguments.get(m.group(1), ""), value)
                env[key] = value.replace("/opt/venv/bin", str(venv / "bin"))
    return env


def entrypoint(project: Path, folder: Path) -> list[str]:
    [(_, arguments)] = [i for i in dockerfile_instructions(project) if i[0] == "ENTRYPOINT"]
    return [path.replace("/app/", f"{folder}/") for path in exec_form(arguments)]


def image_cmd(project: Path) -> list[str]:
    return exec_form([a for name, a in dockerfile_instructions(project) if name == "CMD"][-1])


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def private_tmp(argv: list[str], tmp: Path) -> list[str]:
    """A container's own /tmp (beat's schedule file) is a folder of this test's here."""
    return [f"{tmp}/{arg[5:]}" if arg.startswith("/tmp/") else arg for arg in argv]


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME} and ${NAME:-default}, from the project's .env (no shell variables)."""
    pattern = r"\$\{(\w+)(?::-([^}]*))?\}"
    return re.sub(pattern, lambda m: variables.get(m.group(1)) or m.group(2) or "", value)


# --- the five paths --------------------------------------------------------------------
def procfile_path(project: Path, tmp: Path, base: dict[str, str]) -> DeployPath:
    lines = procfile_lines(project)
    folder = git_files(project, tmp / "app")
    return DeployPath(
        folder,
        {**base, **OPERATOR_VARIABLES},
        release=[["bash", "-c", lines["release"]]],
        processes={name: ["bash", "-c", lines[name]] for name in ("web", "worker", "beat")},
    )


def systemd_path(project: Path, tmp: Path, base: dict[str, str], venv: Path) -> DeployPath:
    slug = project.name
    folder = git_files(project, tmp / "srv")
    # A checkout copied with the developer's .env in it: the units must still be production.
    shutil.copy2(project / ".env", folder / ".env")
    state = tmp / "state"
    state.mkdir()
    paths = {f"/srv/{slug}/.venv/bin/": f"{venv}/bin/", f"/var/lib/{slug}/": f"{state}/"}
    processes, unit_env = {}, {}
    for name in ("web", "worker", "beat"):
        text = (project / "deploy" / "systemd" / f"{name}.service").read_text()
        for old, new in paths.items():
            text = text.replace(old, new)
        assert re.search(rf"^WorkingDirectory=/srv/{slug}$", text, re.MULTILINE), name
        for assignment in re.findall(r"^Environment=(.+)$", text, re.MULTILINE):
            unit_env.update(dict([assignment.split("=", 1)]))
        steps = re.findall(r"^ExecStart(?:Pre)?=(.+)$", text, re.MULTILINE)
        processes[name] = ["bash", "-c", " && ".join([*steps[:-1], f"exec {steps[-1]}"])]
    # docs/deploy.md: `python manage.py migrate --noinput` once per release.
    migrate = [str(venv / "bin" / "python"), "manage.py", "migrate", "--noinput"]
    # The EnvironmentFile's variables win over the units' Environment= lines.
    env = {**base, **unit_env, **OPERATOR_VARIABLES}
    return DeployPath(folder, env, release=[migrate], processes=processes)


def dockerfile_path(project: Path, tmp: Path, base: dict[str, str], venv: Path) -> DeployPath:
    image_env = {**base, **dockerfile_env(project, venv, base)}
    folder = image_files(project, tmp / "image", image_env)
    # `docker run -e ... IMAGE`: the entry point migrates first when asked to.
    env = {**image_env, **OPERATOR_VARIABLES, "DJANGO_MIGRATE_ON_START": "1"}
    return DeployPath(
        folder, env, processes={"web": [*entrypoint(project, folder), *image_cmd(project)]}
    )


def compose_path(project: Path, tmp: Path, base: dict[str, str], venv: Path) -> DeployPath:
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    dot_env = read_env_file(project / ".env")
    release = interpolate(compose["x-app"]["build"]["args"]["RELEASE_VERSION"], dot_env)
    image_env = {**base, **dockerfile_env(project, venv, base), "RELEASE_VERSION": release}
    folder = image_files(project, tmp / "image", image_env)
    services = compose["services"]
    declared = services["web"]["environment"].items()
    environment = {key: interpolate(str(value), dot_env) for key, value in declared}
    # The service URLs name compose's postgres and redis: the test sets this machine's.
    env = {**image_env, **dot_env, **environment}
    start = entrypoint(project, folder)
    commands = {
        name: [*start, *private_tmp(services[name].get("command", image_cmd(project)), tmp)]
        for name in ("migrate", "web", "worker", "beat")
    }
    return DeployPath(
        folder,
        env,
        release=[commands["migrate"]],
        processes={name: commands[name] for name in ("web", "worker", "beat")},
        environment=env["ENVIRONMENT"],
        version=release,
    )


def kubernetes_path(project: Path, tmp: Path, base: dict[str, str], venv: Path) -> DeployPath:
    k8s = project / "deploy" / "k8s"
    image_env = {**base, **dockerfile_env(project, venv, base)}
    folder = image_files(project, tmp / "image", image_env)
    config = yaml.safe_load((k8s / "configmap.yaml").read_text())["data"]
    secret_keys = yaml.safe_load((k8s / "secret.example.yaml").read_text())["stringData"]
    # The operator fills in the Secret (its example's placeholders are refused at start-up).
    secret = {key: OPERATOR_VARIABLES.get(key, "") for key in secret_keys} | OPERATOR_VARIABLES
    env = {**image_env, **config, **secret}

    def command(name: str, manifest_file: str = "") -> list[str]:
        """A container's `command` replaces the image's ENTRYPOINT and CMD; else both run."""
        text = (k8s / (manifest_file or f"{name}.yaml")).read_text()
        [workload] = [d for d in yaml.safe_load_all(text) if d["kind"] in ("Deployment", "Job")]
        [container] = workload["spec"]["template"]["spec"]["containers"]
        if "command" in container:
            return private_tmp(container["command"], tmp)
        return [*entrypoint(project, folder), *image_cmd(project)]

    return DeployPath(
        folder,
        env,
        release=[command("migrate", "migrate/job.yaml")],
        processes={name: command(name) for name in ("web", "worker", "beat")},
    )


PATHS = {
    "procfile": lambda project, tmp, base, venv: procfile_path(project, tmp, base),
    "systemd": systemd_path,
    "dockerfile": dockerfile_path,
    "compose": compose_path,
    "kubernetes": kubernetes_path,
}


# --- running one path ------------------------------------------------------------------
@pytest.fixture(scope="module")
def render(cookies_session) -> tuple[Path, Path]:
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    return project, venv_for(project)


def json_records(process: Process) -> tuple[list[dict], list[str]]:
    """(JSON log records, lines that are not one)."""
    records, others = [], []
    for line in process.output_lines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.keys() >= LOG_FIELDS:
            records.append(record)
        else:
            others.append(line)
    return records, others


def logged(process: Process, text: str) -> bool:
    if not process.alive():
        raise AssertionError(f"{process.name} exited early:\n{process.describe()}")
    return any(text in line for line in process.output_lines())


def check_web(url: str, path: DeployPath) -> None:
    allowed = path.env.get("DJANGO_ALLOWED_HOSTS", DOMAIN).split(",")
    site = {**SITE_HEADERS, "Host": allowed[0]}
    status, _, body = http("GET", f"{url}/health/")
    health = json.loads(body)
    assert (health["environment"], health["version"]) == (path.environment, path.version), health

    admin = path.env.get("DJANGO_ADMIN_URL") or "admin/"
    status, _, body = http("GET", f"{url}/{admin}login/", headers=site)
    assert status == 200, body[:300]
    # The manifest storage names static files by content hash: collected, or this is a 500.
    [stylesheet] = re.findall(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', body)
    status, headers, _ = http("GET", url + stylesheet.decode(), headers=site)
    assert status == 200 and headers["Content-Type"].startswith("text/css"), status

    status, _, body = http("GET", f"{url}/no-such-page/", headers=site)
    assert status == 404
    assert b"DEBUG = True" not in body and b"technical" not in body.lower()
    if admin != "admin/":
        assert http("GET", f"{url}/admin/login/", headers=site)[0] == 404


@pytest.mark.parametrize("name", PATHS)
def test_each_deploy_path_starts_in_production(render, name, tmp_path, service_env):
    project, venv = render
    base = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    if name in ("procfile", "systemd"):  # the platform's or the unit's venv is on PATH
        base["PATH"] = f"{venv / 'bin'}:{base['PATH']}"
    with contextlib.ExitStack() as running:
        path = PATHS[name](project, tmp_path, base, venv)
        port = free_port()
        # The operator's services, and servers on loopback (documented variables).
        path.env |= {**service_env, "GUNICORN_BIND": f"127.0.0.1:{port}", **LOOPBACK_VARIABLES}

        for step, argv in enumerate(path.release):
            release = Process(f"release{step}", argv, path.folder, path.env, tmp_path).start()
            assert release.wait(180) == 0, release.describe()
        processes = {
            kind: Process(kind, argv, path.folder, path.env, tmp_path).start()
            for kind, argv in path.processes.items()
        }
        for process in processes.values():
            running.callback(process.stop)

        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: logged(processes["web"], "Booting worker"), 90, f"{name} web")
        wait_for(lambda: http("GET", f"{url}/health/live/", timeout=2)[0] == 200, 30, "web")
        check_web(url, path)
        if "worker" in processes:
            wait_for(lambda: logged(processes["worker"], " ready."), 60, f"{name} worker")
        if "beat" in processes:
            wait_for(lambda: logged(processes["beat"], "beat: Starting"), 60, f"{name} beat")

        for kind, process in processes.items():
            assert process.stop() == 0, process.describe()
            records, others = json_records(process)
            assert records and not others, f"{name} {kind}: lines not JSON: {others[:5]}"
            assert {r["environment"] for r in records} == {path.environment}, (name, kind)
            assert {r["release"] for r in records} == {path.version}, (name, kind)
