"""`make demo`: render the template with its defaults and show the project running.

Renders into .demo/, installs the render's dependencies in a cached venv,
migrates on the embedded defaults (SQLite, no services), serves it with
gunicorn on 127.0.0.1 for a few requests, prints what it answers, and stops.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cookiecutter.main import cookiecutter
from ports import free_port
from venvs import REPO_DIR, venv_for

DEMO_DIR = REPO_DIR / ".demo"
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")


def call(method: str, url: str, body: dict | None = None) -> tuple[int, dict, str]:
    """Return status, headers and the body (pretty-printed when it is JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    try:
        return status, headers, json.dumps(json.loads(raw), indent=2)
    except ValueError:
        return status, headers, raw.decode(errors="replace")[:500]


def wait_until_up(url: str, server: subprocess.Popen, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if server.poll() is not None:
            sys.exit("gunicorn exited early; see the log above")
        try:
            call("GET", url)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {deadline} s")


def main() -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    project = Path(cookiecutter(str(REPO_DIR), no_input=True, output_dir=str(DEMO_DIR)))
    venv = venv_for(project)
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"

    print(f"==> Rendered {project.relative_to(REPO_DIR)}; migrating on SQLite (no services)")
    subprocess.run(["python", "manage.py", "migrate", "-v", "0"], cwd=project, env=env, check=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"==> Serving with gunicorn on {base}")
    server = subprocess.Popen(
        ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=project,
        env=env,
    )
    try:
        wait_until_up(f"{base}/health/live/", server)
        for method, path, body in (
            ("GET", "/health/live/", None),
            ("GET", "/health/", None),
            ("POST", "/orders/", {"amount": "19.90", "currency": "EUR"}),
            ("GET", "/orders/1/", None),
        ):
            status, headers, answer = call(method, base + path, body)
            request_id = headers.get("X-Request-ID", "-")
            print(f"\n{method} {path} -> {status} (X-Request-ID: {request_id})")
            print(answer)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(f"\n==> Done. The project is in {project}; its README says what to do next.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
