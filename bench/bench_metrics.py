"""Requests per second with Prometheus metrics on and off, in one run.

Renders the template twice (use_prometheus=y and n, every other answer at its default),
serves both with gunicorn (2 sync workers, production settings) on loopback, and loads them
in interleaved rounds so that machine noise hits both alike. Reports each round, the median
ratio on/off, and how long a scrape of /metrics takes afterwards. A second measure, less
sensitive to a busy machine, calls Django's WSGI handler in-process (no network, one core) in
each render, in the same interleaved way.

    .venv/bin/python bench/bench_metrics.py [--rounds 6] [--seconds 4] [--clients 4]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cookiecutter.main import cookiecutter

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR / "scripts"))
from venvs import venv_for  # noqa: E402

PATH = "/health/live/"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Server:
    """A render served by gunicorn on a loopback port."""

    def __init__(self, project: Path, workdir: Path) -> None:
        self.port, self.project, self.workdir = free_port(), project, workdir
        self.python = python = venv_for(project) / "bin" / "python"
        self.env = env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PROMETHEUS_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-" + "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"sqlite:///{workdir / 'unused.sqlite3'}",
            # Only /metrics reads Redis (the queue length); the benchmarked path does not.
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        }
        command = [
            python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "2",
            "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "config.wsgi",
        ]  # fmt: skip
        self.log = open(workdir / f"{project.parent.name}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=project, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(self.port, PATH)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn for {project} did not answer; see {self.log.name}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# Runs inside a render's venv: requests/s through Django's WSGI handler, without a network.
HANDLER_LOOP = """
import io, sys, time
from django.core.wsgi import get_wsgi_application
app = get_wsgi_application()
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/health/live/", "SERVER_NAME": "127.0.0.1",
           "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(),
           "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr}
def start_response(status, headers):
    assert status.startswith("200"), status
for _ in range(200):
    b"".join(app(dict(environ), start_response))
count, stop_at = 0, time.perf_counter() + float(sys.argv[1])
start = time.perf_counter()
while time.perf_counter() < stop_at:
    b"".join(app(dict(environ), start_response))
    count += 1
print(count / (time.perf_counter() - start))
"""


def handler_rate(server: Server, seconds: float) -> float:
    # Multiprocess mode, as under gunicorn: every sample goes to a memory-mapped file.
    folder = tempfile.mkdtemp(prefix="metrics-", dir=server.workdir)
    run = subprocess.run(
        [server.python, "-c", HANDLER_LOOP, str(seconds)],
        cwd=server.project, env={**server.env, "PROMETHEUS_MULTIPROC_DIR": folder},
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return float(run.stdout.strip().splitlines()[-1])


def load(port: int, seconds: float, clients: int) -> float:
    """Requests per second `clients` threads get through in `seconds`."""
    done = [0] * clients
    errors = []
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        while time.monotonic() < stop_at:
            status, _ = get(port, PATH)
            if status != 200:
                errors.append(status)
                return
            done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"non-200 answers during the benchmark: {errors[:5]}")
    return sum(done) / (time.monotonic() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        workdir = Path(tmp)
        projects = {}
        for answer in ("y", "n"):
            out = workdir / f"prometheus-{answer}"
            path = cookiecutter(
                str(REPO_DIR), no_input=True, output_dir=str(out),
                extra_context={"use_prometheus": answer},
            )  # fmt: skip
            projects["on" if answer == "y" else "off"] = Path(path)
        servers = {name: Server(project, workdir) for name, project in projects.items()}
        try:
            for server in servers.values():  # warm up: imports, first-request caches
                load(server.port, 1.0, args.clients)
            rounds = []
            for number in range(args.rounds):
                order = ("on", "off") if number % 2 == 0 else ("off", "on")
                result = {
                    name: load(servers[name].port, args.seconds, args.clients) for name in order
                }
                rounds.append(result)
                ratio = result["on"] / result["off"]
                print(
                    f"round {number + 1}: on {result['on']:6.0f} req/s, "
                    f"off {result['off']:6.0f} req/s, ratio {ratio:.3f}"
                )
            scrape_ms = []
            for _ in range(20):
                start = time.perf_counter()
                status, body = get(servers["on"].port, "/metrics")
                scrape_ms.append((time.perf_counter() - start) * 1000)
                assert status == 200, status
            in_process = []
            for number in range(args.rounds):
                order = ("on", "off") if number % 2 == 0 else ("off", "on")
                in_process.append(
                    {name: handler_rate(servers[name], args.seconds) for name in order}
                )
        finally:
            for server in servers.values():
                server.stop()

    on = statistics.median(r["on"] for r in rounds)
    off = statistics.median(r["off"] for r in rounds)
    ratio = statistics.median(r["on"] / r["off"] for r in rounds)
    print(f"median: on {on:.0f} req/s, off {off:.0f} req/s, ratio {ratio:.3f} (goal >= 0.95)")
    print(f"GET /metrics: median {statistics.median(scrape_ms):.1f} ms, {len(body)} bytes")
    on = statistics.median(r["on"] for r in in_process)
    off = statistics.median(r["off"] for r in in_process)
    ratio = statistics.median(r["on"] / r["off"] for r in in_process)
    overhead_us = (1 / on - 1 / off) * 1e6
    print(
        f"in-process WSGI handler: on {on:.0f} req/s, off {off:.0f} req/s, ratio {ratio:.3f}, "
        f"~{overhead_us:.0f} us per request"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
