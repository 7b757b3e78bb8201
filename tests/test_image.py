"""The default render's Dockerfile, built for real with buildah and run with podman.

`make test-image` runs this (never `make test`: a first run makes the stand-in base, a
few minutes; README, "The image test"). The render gets a requirements.lock from its own
`make lock`, so the build takes the lock's path; the image is then started as an operator
would, migrating on start, against this test's own PostgreSQL database and Redis db, on
the host's network with a free loopback port. What it proves: the build succeeds on an
unchanged Dockerfile, the image answers the health contract and runs as uid 10001 over
code it cannot change, holds neither tests/ nor docs/ nor dev tools, logs migrate as
JSON, and its HEALTHCHECK follows GUNICORN_BIND. What it does not: tests/image.py.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from ports import free_port
from venvs import venv_for

from .image import ULIMITS, buildah, ensure_base, missing_tools, podman, run
from .stack import http, wait_for
from .test_deploy_paths import LOG_FIELDS

pytestmark = pytest.mark.image

RELEASE = "image-test"
SECRET_KEY = "image-test-" + "0123456789abcdef" * 4
APP_UID = "10001"
HELD_BELOW = "26"  # structlog: pyproject allows <27


@pytest.fixture(scope="module")
def base() -> str:
    if missing := missing_tools():
        pytest.fail(f"{', '.join(missing)} missing: `make test-image` installs them (apt-get)")
    return ensure_base()


@pytest.fixture(scope="module")
def project(cookies_session) -> Path:
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)

    # The render's own `make lock`, with the render's venv (it holds uv), held below the
    # newest structlog that pyproject allows: an image built from the ranges instead would
    # have the newest, and the test would see it.
    constraint = project.parent / "lock-constraint.txt"
    constraint.write_text(f"structlog<{HELD_BELOW}\n")
    env = {**os.environ, "UV_CONSTRAINT": str(constraint)}
    run("make", "-C", str(project), "lock", f"VENV={venv_for(project)}", timeout=300, env=env)
    assert (project / "requirements.lock").is_file()
    return project


@pytest.fixture(scope="module")
def image(base, project) -> str:
    tag = f"localhost/image-test-{secrets.token_hex(4)}:latest"
    # --format docker keeps HEALTHCHECK (OCI's format has no such field); --layers=false
    # keeps no intermediate images to clean up.
    build = buildah("bud", "--format", "docker", "--isolation", "chroot", "--pull=never",
                    "--layers=false", "--build-arg", f"RELEASE_VERSION={RELEASE}", "-t", tag,
                    str(project), timeout=1200)  # fmt: skip
    (project / "build.log").write_text(build.stdout + build.stderr)
    yield tag
    buildah("rmi", "--force", tag, check=False, timeout=120)


def docker_config(image: str) -> dict:
    return json.loads(buildah("inspect", "--type", "image", image).stdout)["Docker"]["config"]


@pytest.fixture(scope="module")
def container(image, module_service_env) -> dict[str, str]:
    name = f"image-test-{secrets.token_hex(4)}"
    port = free_port()
    env = {
        **module_service_env,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_MIGRATE_ON_START": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        # Host network: every listener on loopback, the metrics one on a port of the OS's.
        "METRICS_WORKER_ADDRESS": "127.0.0.1",
        "METRICS_WORKER_PORT": "0",
    }
    pairs = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    # As the Kubernetes manifests run it: root file system read-only (podman mounts a tmpfs
    # on /tmp, as the pods' emptyDir), no capabilities, no privilege escalation.
    podman("run", "--detach", "--name", name, "--network", "host", "--no-healthcheck",
           "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
           *ULIMITS, *pairs, image, timeout=300)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def live() -> bool:
            state = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            if state != "true":
                logs = podman("logs", name, check=False).stdout
                raise AssertionError(f"the container stopped:\n{logs[-4000:]}")
            return http("GET", f"{url}/health/live/", timeout=2)[0] == 200

        wait_for(live, timeout=180, what="the container's /health/live/", interval=1)
        yield {"name": name, "url": url, "port": str(port), **env}
    finally:
        podman("rm", "--force", "--time", "5", name, check=False, timeout=120)


def in_container(container, *command: str, user: str = "") -> subprocess.CompletedProcess:
    as_user = ("--user", user) if user else ()
    return podman("exec", *as_user, container["name"], *command, timeout=120, check=False)


def test_the_image_answers_the_health_contract(container):
    status, headers, body = http("GET", f"{container['url']}/health/live/")
    assert status == 200 and json.loads(body) == {"status": "alive"}, body
    assert "no-store" in headers["Cache-Control"]
    # Every check, on the database the entry point migrated and this test's Redis; no
    # worker runs here, so celery_workers may warn (degraded, still 200).
    status, _, body = http("GET", f"{container['url']}/health/")
    health = json.loads(body)
    assert status == 200 and health["version"] == RELEASE, health
    checks = {name: check["status"] for name, check in health["checks"].items()}
    for name in ("database", "cache", "broker", "migrations"):
        assert checks[name] == "ok", health


def test_migrate_on_start_logs_json_lines(container):
    logs = podman("logs", container["name"]).stdout.splitlines()
    records = [json.loads(line) for line in logs if line.startswith("{")]
    migrate = [r for r in records if "Applying" in r.get("message", "")]
    assert migrate, logs[:20]
    assert all(r.keys() >= LOG_FIELDS for r in migrate), migrate[0]
    assert {r["release"] for r in migrate} == {RELEASE}
    # Every line on stdout is a record: migrate's progress included.
    assert len(records) == len(logs), [line for line in logs if not line.startswith("{")][:5]


def test_the_app_runs_as_uid_10001_over_code_it_cannot_change(container):
    answer = in_container(container, "sh", "-c", "id -u; id -g")
    assert answer.stdout.split() == [APP_UID, APP_UID], answer
    # gunicorn's master is PID 1 (the entry point execs it), and the image's user.
    status = in_container(container, "cat", "/proc/1/status").stdout
    assert re.search(rf"^Uid:\s+{APP_UID}\s", status, re.M), status
    # By owner and mode, not by trying: the root file system is read-only here, which would
    # hide code the user could change where it is not (compose, `docker run`).
    changeable = in_container(
        container, "find", "/app", "/opt/venv", "!", "-type", "l",  # a link's mode is 0777
        "(", "-uid", APP_UID, "-o", "-perm", "-0002", "-o", "(", "-gid", APP_UID, "-perm",
        "-0020", ")", ")", "-print", user=APP_UID,
    )  # fmt: skip
    assert changeable.returncode == 0, changeable.stderr
    assert changeable.stdout == "", changeable.stdout[:2000]
    assert in_container(container, "test", "-r", "/app/manage.py", user=APP_UID).returncode == 0


def test_tests_docs_and_secrets_stay_out_of_the_image(container):
    listing = set(in_container(container, "ls", "-A", "/app").stdout.split())
    assert {"manage.py", "config", "my_project", "staticfiles"} <= listing, listing
    assert not listing & {"tests", "docs", ".env", ".git", ".venv", "requirements.image.lock"}


def test_the_image_holds_the_locks_runtime_pins_and_no_dev_tools(container, project):
    # The build took the lock's path (scripts/image_requirements.py says which it wrote).
    log = (project / "build.log").read_text()
    assert re.search(r"requirements\.image\.lock: \d+ of the \d+ pins", log), log[-3000:]
    answer = in_container(container, "python", "-m", "pip", "list", "--format", "json")
    installed = {
        p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(answer.stdout)
    }
    lock = (project / "requirements.lock").read_text()
    pinned = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s;\\]+)", lock, re.M))
    assert int(pinned["structlog"].split(".")[0]) < int(HELD_BELOW), pinned["structlog"]
    runtime = {"django", "celery", "gunicorn", "psycopg", "redis", "structlog"}
    assert all(installed[name] == pinned[name] for name in runtime), (installed, pinned)
    assert all(installed[name] == pinned[name] for name in installed if name in pinned)
    assert not installed.keys() & {"pytest", "mypy", "ruff", "django-stubs"}, installed


def test_the_healthcheck_follows_gunicorn_bind(container, image):
    healthcheck = docker_config(image)["Healthcheck"]["Test"]
    assert healthcheck[0] == "CMD", healthcheck
    # In the container, with its GUNICORN_BIND: the port gunicorn serves.
    assert in_container(container, *healthcheck[1:]).returncode == 0
    # Another bind names another port, where nothing listens: the check fails.
    other = f"127.0.0.1:{free_port()}"
    answer = podman("exec", "--env", f"GUNICORN_BIND={other}", container["name"],
                    *healthcheck[1:], timeout=60, check=False)  # fmt: skip
    assert answer.returncode != 0 and "Connection refused" in answer.stderr, answer
