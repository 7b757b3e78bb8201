"""Scrape time after many gunicorn worker recycles, with and without folding dead workers.

Renders the template with its defaults and serves it twice with gunicorn (2 sync workers,
production settings, loopback): once as rendered (child_exit folds a dead worker's
counters and histograms into per-type totals) and once with the child_exit from before
the fold (drop the in-flight gauge only), so every dead worker leaves its files behind.
Both use max_requests=1: every request recycles a worker. They are driven alike, and at
0, 100, 500 and 2,000 recycles each folder is scraped in interleaved rounds, timing what
/metrics does with it (MultiProcessCollector + generate_latest, in the render's venv, under
the fold lock): an HTTP scrape here would land on a worker forked a moment before and time
its warm-up instead. One HTTP /metrics per checkpoint checks the request total against the
requests sent.

--preload makes a recycle a fork of the loaded master rather than a fresh Django start
(~1 s here), so 2,000 real recycles take a few minutes; what a scrape reads (the files in
PROMETHEUS_MULTIPROC_DIR) does not depend on how workers start.

    .venv/bin/python bench/bench_metrics_recycles.py [--checkpoints 0,100,500,2000] [--rounds 15]

Linux only. Set REDIS_URL to a Redis database the scrape may read (the queue length).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cookiecutter.main import cookiecutter

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR / "scripts"))
from ports import free_port  # noqa: E402
from venvs import venv_for  # noqa: E402

PATH = "/health/live/"
# Runs in the render's venv: median seconds of a scrape of the folder argv[1], argv[2] times.
SCRAPE_LOOP = """
import statistics, sys, time
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from my_project.monitoring.metrics._multiprocess_files import folder_lock
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=sys.argv[1])
    with folder_lock(sys.argv[1], exclusive=False):
        generate_latest(registry)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""
COUNTED = re.compile(
    r'^http_requests_total\{method="GET",route="/health/live/",status_class="2xx"\} (\S+)$', re.M
)
UNFIXED_CHILD_EXIT = """def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit"""


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Server:
    def __init__(self, name: str, project: Path, workdir: Path) -> None:
        self.name, self.port, self.sent, self.project = name, free_port(), 0, project
        self.folder = workdir / f"metrics-{name}"
        self.folder.mkdir()  # --preload: the master records metrics before on_starting
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PROMETHEUS_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-" + "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"sqlite:///{workdir / 'unused.sqlite3'}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.folder),
        }
        command = [
            venv_for(project) / "bin" / "python", "-m", "gunicorn", "-c", "gunicorn.conf.py",
            "--workers", "2", "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
            "--preload", "--max-requests", "1", "--max-requests-jitter", "0", "config.wsgi",
        ]  # fmt: skip
        self.log = open(workdir / f"{name}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=project, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(self.port, "/metrics")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn {name} did not answer:\n{Path(self.log.name).read_text()}")

    def drive(self, requests: int) -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(lambda _: get(self.port, PATH)[0], range(requests)))
        if statuses != [200] * requests:
            raise SystemExit(f"{self.name}: non-200 answers while driving")
        self.sent += requests

    def counted(self) -> float:
        """The request total an HTTP scrape reports."""
        status, body = get(self.port, "/metrics")
        if status != 200:
            raise SystemExit(f"{self.name}: /metrics answered {status}")
        match = COUNTED.search(body.decode())
        return float(match.group(1)) if match else 0.0

    def scrape_seconds(self, repeat: int) -> float:
        python = venv_for(self.project) / "bin" / "python"
        command = [python, "-c", SCRAPE_LOOP, str(self.folder), str(repeat)]
        return float(subprocess.check_output(command, cwd=self.project, text=True))

    def files(self) -> int:
        return len(list(self.folder.glob("*.db")))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoints", default="0,100,500,2000")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    checkpoints = [int(n) for n in args.checkpoints.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="bench-recycles-"))
    try:
        folded = Path(cookiecutter(str(REPO_DIR), no_input=True, output_dir=str(workdir / "y")))
        unfixed = workdir / "unfixed" / folded.name
        shutil.copytree(folded, unfixed)
        conf = unfixed / "gunicorn.conf.py"
        text, count = re.subn(
            r"def child_exit\(server, worker\):.*?\ndef on_exit", UNFIXED_CHILD_EXIT,
            conf.read_text(), flags=re.S,
        )  # fmt: skip
        assert count == 1, "child_exit not found in gunicorn.conf.py"
        conf.write_text(text)
        servers = [Server("folded", folded, workdir), Server("unfixed", unfixed, workdir)]
        results: dict[tuple[str, int], float] = {}
        try:
            recycled = 0
            for checkpoint in checkpoints:
                started = time.monotonic()
                for server in servers:
                    server.drive(checkpoint - recycled)
                recycled = checkpoint
                drive_s = time.monotonic() - started
                time.sleep(1)  # the last exits are folded
                for server in servers:
                    if (total := server.counted()) != server.sent:
                        raise SystemExit(
                            f"{server.name}: scrape counted {total}, sent {server.sent}"
                        )
                times: dict[str, list[float]] = {s.name: [] for s in servers}
                for _ in range(args.rounds):  # interleaved: noise hits both alike
                    for server in servers:
                        times[server.name].append(server.scrape_seconds(5))
                line = [f"{checkpoint:>5} recycles ({drive_s:5.1f} s to drive both):"]
                for server in servers:
                    median = statistics.median(times[server.name])
                    results[server.name, checkpoint] = median
                    line.append(f"{server.name} {median * 1e3:7.1f} ms ({server.files()} files)")
                print("  ".join(line), flush=True)
        finally:
            for server in servers:
                server.stop()
        first, last = checkpoints[0], checkpoints[-1]
        for name in ("folded", "unfixed"):
            ratio = results[name, last] / results[name, first]
            print(f"{name}: scrape after {last} recycles / fresh = {ratio:.2f}x")
        print("totals: every scrape's request count equalled the requests sent")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
