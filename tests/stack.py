"""Processes for the end-to-end test: Bugsink, and the render's web/worker/beat.

Everything listens on 127.0.0.1, on ports picked free by the OS, and every wait
is bounded. Output of each process goes to a file the test reads afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ports import free_port
from venvs import venv_with

BUGSINK_REQUIREMENT = "bugsink>=2.6,<3"


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll predicate() until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Process:
    """A child process whose stdout and stderr go to one log file each."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    log_dir: Path
    # Sent before the kill when the process does not stop in time, to make it print where
    # it is stuck (a Celery worker prints every thread's stack on SIGUSR1).
    dump_signal: int | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"{self.name}.out"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"{self.name}.err"

    def start(self) -> Process:
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.popen = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=out, stderr=err
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output_lines(self) -> list[str]:
        lines = []
        for path in (self.stdout_path, self.stderr_path):
            if path.exists():
                lines += [line for line in path.read_text().splitlines() if line.strip()]
        return lines

    def wait(self, timeout: float) -> int:
        """Wait for the process to end by itself; kill it after timeout. The exit status."""
        assert self.popen is not None
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send sig and wait; kill after timeout. Returns the exit status."""
        if self.popen is None:
            return 0
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                if self.dump_signal is not None:
                    self.popen.send_signal(self.dump_signal)
                    time.sleep(2)
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode

    def describe(self) -> str:
        return f"--- {self.name} output ---\n" + "\n".join(self.output_lines()[-60:])


class Bugsink:
    """A real Sentry-compatible server (Bugsink) in its own venv, on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.venv = venv_with(BUGSINK_REQUIREMENT)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))},
            "DJANGO_SETTINGS_MODULE": "bugsink_conf",
            "PYTHONPATH": str(workdir),
            "DATABASE_PATH": str(workdir / "bugsink.sqlite3"),
            "SNAPPEA_DATABASE_PATH": str(workdir / "snappea.sqlite3"),
        }
        self.process: Process | None = None
        self.dsn = ""
        self.token = ""

    def _manage(self, *args: str) -> str:
        result = subprocess.run(
            [self.venv / "bin" / "bugsink-manage", *args],
            cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self) -> Bugsink:
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [self.venv / "bin" / "bugsink-create-conf", "--template", "local",
             "--host", "127.0.0.1", "--port", str(self.port), "-o", "bugsink_conf.py"],
            cwd=self.workdir, env=self.env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self._manage("migrate", "-v", "0")
        self._manage("migrate", "snappea", "--database=snappea", "-v", "0")
        created = self._manage(
            "shell", "--no-imports", "-c",
            "from projects.models import Project; from teams.models import Team;"
            "from bsmain.models import AuthToken;"
            "p = Project.objects.create(name='e2e', team=Team.objects.create(name='e2e'));"
            "print(p.dsn); print(AuthToken.create_full_access().token)",
        )  # fmt: skip
        self.dsn, self.token = created.split()[-2:]
        self.process = Process(
            "bugsink",
            [str(self.venv / "bin" / "gunicorn"), "bugsink.wsgi", "--bind",
             f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4"],
            cwd=self.workdir, env=self.env, log_dir=self.workdir,
        ).start()  # fmt: skip
        wait_for(lambda: self._get("projects/"), 60, "Bugsink to answer")
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def _get(self, path: str) -> dict:
        status, _, body = http(
            "GET",
            f"{self.base_url}/api/canonical/0/{path}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert status == 200, (status, body[:500])
        return json.loads(body)

    def issues(self) -> list[dict]:
        return self._get("issues/?project=1")["results"]

    def events(self) -> list[dict]:
        """Every stored event, full payload included."""
        events = []
        for issue in self.issues():
            for summary in self._get(f"events/?issue={issue['id']}")["results"]:
                events.append(self._get(f"events/{summary['id']}/"))
        return events


class StubServer:
    """An HTTP server on loopback that answers 200 "ok" and keeps what was POSTed.

    Stands in for a Slack incoming webhook (or any JSON receiver).
    """

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, str], bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append((self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
