"""Requests per second with Prometheus metrics on and off, in one run.

Renders the template twice (use_prometheus=y and n, every other answer at its default),
serves both with gunicorn (2 sync workers, production settings) on loopback, and loads them
in interleaved rounds so that machine noise hits both alike. Besides requests/s it reads the
CPU time the gunicorn workers spent (/proc), which a busy machine disturbs far less than
wall-clock rates: CPU per request off/on is the throughput ratio of a CPU-bound server.
A last measure calls Django's WSGI handler in-process (no network) in each render.

    .venv/bin/python bench/bench_metrics.py [--rounds 10] [--seconds 3] [--clients 4]

Linux only (/proc). Set REDIS_URL to a Redis database the scrape may read.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
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
from ports import free_port  # noqa: E402
from venvs import venv_for  # noqa: E402

PATH = "/health/live/"
TICKS = os.sysconf("SC_CLK_TCK")

# Runs inside a render's venv: CPU and wall time per request through Django's WSGI handler.
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
count = int(sys.argv[1])
cpu, wall = time.process_time(), time.perf_counter()
for _ in range(count):
    b"".join(app(dict(environ), start_response))
print((time.process_time() - cpu) / count, (time.perf_counter() - wall) / count)
"""


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
        self.python = venv_for(project) / "bin" / "python"
        self.env = {
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
            self.python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "2",
            "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
            # Same workers for the whole run: a recycled worker would take its CPU time along.
            "--max-requests", "0", "config.wsgi",
        ]  # fmt: skip
        self.log = open(workdir / f"{project.parent.name}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=project, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
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

    def worker_cpu_seconds(self) -> float:
        """User + system CPU time of the gunicorn workers so far."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for child in children:
            fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / TICKS

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def load(server: Server, seconds: float, clients: int) -> tuple[float, float]:
    """Requests/s `clients` threads get through in `seconds`, and worker CPU us per request."""
    done = [0] * clients
    errors = []
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        while time.monotonic() < stop_at:
            status, _ = get(server.port, PATH)
            if status != 200:
                errors.append(status)
                return
            done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    cpu, start = server.worker_cpu_seconds(), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.monotonic() - start, server.worker_cpu_seconds() - cpu
    if errors:
        raise SystemExit(f"non-200 answers during the benchmark: {errors[:5]}")
    return sum(done) / elapsed, cpu / sum(done) * 1e6


def in_process(server: Server, requests: int) -> tuple[float, float]:
    """CPU and wall microseconds per request through the WSGI handler, multiprocess mode."""
    folder = tempfile.mkdtemp(prefix="metrics-", dir=server.workdir)
    run = subprocess.run(
        [server.python, "-c", HANDLER_LOOP, str(requests)],
        cwd=server.project, env={**server.env, "PROMETHEUS_MULTIPROC_DIR": folder},
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    cpu, wall = map(float, run.stdout.split()[-2:])
    return cpu * 1e6, wall * 1e6


def interleave(rounds: int, measure) -> list[dict[str, tuple[float, float]]]:
    results = []
    for number in range(rounds):
        order = ("on", "off") if number % 2 == 0 else ("off", "on")
        results.append({name: measure(name) for name in order})
    return results


def median(results, name: str, index: int) -> float:
    return statistics.median(result[name][index] for result in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--handler-requests", type=int, default=3000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        workdir = Path(tmp)
        servers = {}
        for name, answer in (("on", "y"), ("off", "n")):
            project = cookiecutter(
                str(REPO_DIR), no_input=True, output_dir=str(workdir / name),
                extra_context={"use_prometheus": answer},
            )  # fmt: skip
            servers[name] = Server(Path(project), workdir)
        try:
            for server in servers.values():  # warm up: imports, first-request caches
                load(server, 1.0, args.clients)
            http = interleave(args.rounds, lambda n: load(servers[n], args.seconds, args.clients))
            scrape_ms = []
            for _ in range(20):
                start = time.perf_counter()
                status, body = get(servers["on"].port, "/metrics")
                scrape_ms.append((time.perf_counter() - start) * 1000)
                assert status == 200, status
            handler = interleave(
                args.rounds, lambda n: in_process(servers[n], args.handler_requests)
            )
        finally:
            for server in servers.values():
                server.stop()

    for number, result in enumerate(http, 1):
        (on_rate, on_cpu), (off_rate, off_cpu) = result["on"], result["off"]
        print(
            f"round {number:2}: on {on_rate:5.0f} req/s {on_cpu:5.0f} us CPU/req | "
            f"off {off_rate:5.0f} req/s {off_cpu:5.0f} us CPU/req"
        )
    rate_ratio = statistics.median(r["on"][0] / r["off"][0] for r in http)
    cpu_on, cpu_off = median(http, "on", 1), median(http, "off", 1)
    print(
        f"gunicorn, median req/s: on {median(http, 'on', 0):.0f}, off {median(http, 'off', 0):.0f}"
    )
    print(f"  median of per-round ratios on/off: {rate_ratio:.3f} (goal >= 0.95)")
    print(f"  worker CPU per request: on {cpu_on:.0f} us, off {cpu_off:.0f} us")
    print(f"  CPU-bound throughput ratio (CPU off/on): {cpu_off / cpu_on:.3f}")
    print(f"GET /metrics: median {statistics.median(scrape_ms):.1f} ms, {len(body)} bytes")
    h_on, h_off = median(handler, "on", 0), median(handler, "off", 0)
    print(
        f"WSGI handler in-process, CPU per request: on {h_on:.0f} us, off {h_off:.0f} us "
        f"(+{h_on - h_off:.0f} us, ratio off/on {h_off / h_on:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
