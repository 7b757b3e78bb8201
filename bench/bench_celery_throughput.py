"""Task throughput of a real worker: the project's Celery app vs a bare Celery app.

    /work/main/.venv/bin/python bench/bench_celery_throughput.py [--tasks 2000] [--rounds 3]

Renders the template with its defaults and starts a redis-server of its own on loopback.
Each round queues N trivial tasks, then starts a worker (prefork, one child, INFO logs to
a pipe that is read and dropped, as a container's log collector does) and times the tasks
from the first start to the last end, through a Redis counter the task increments. The
two apps alternate round by round:

- bare: `Celery(broker=...)` and the same task, nothing else;
- bare, same settings: plus the Redis result backend the project's settings configure;
- ours: config.celery_app under local settings with JSON logs, so every receiver of
  monitoring/celery_signals.py runs (correlation, task timing, metrics in multiprocess
  files, probe files, stuck-task and missed-beat steps). No SENTRY_DSN: the SDK's cost is
  measured by bench/sentry_options.py;
- ours, task events on: CELERY_TASK_EVENTS=true, what Flower needs.

Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE / "scripts"))

from ports import redis_server  # noqa: E402
from venvs import venv_for  # noqa: E402

SLUG = "my_project"
QUEUE = "bench"
TASKS_MODULE = '''"""Bench only: a trivial task that counts its runs in Redis."""

import os
import time

import redis
from celery import shared_task

_counter = redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])


@shared_task(name="bench.count")
def count() -> None:
    done = _counter.incr("bench:done")
    if done == 1:
        _counter.set("bench:first", time.time())
    if done == int(os.environ["BENCH_TASKS"]):
        _counter.set("bench:last", time.time())
'''
BARE_APP = '''"""Bench only: a bare Celery app with the same task."""

import os

from celery import Celery

app = Celery("bare", broker=os.environ["REDIS_URL"])
app.conf.worker_prefetch_multiplier = 1
if os.environ.get("BENCH_SAME_SETTINGS"):
    # What the project's settings add per task, monitoring aside: a stored result.
    app.conf.result_backend = os.environ["REDIS_URL"]
import bench_tasks  # noqa: E402, F401
'''


def redis_command(port: int, *words: str) -> bytes:
    """One command over a raw socket (the bench's own Python may lack redis-py)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        parts = [f"*{len(words)}\r\n".encode()]
        for word in words:
            parts.append(f"${len(word.encode())}\r\n{word}\r\n".encode())
        conn.sendall(b"".join(parts))
        return conn.recv(65536)


def bulk_value(reply: bytes) -> str | None:
    if reply.startswith(b"$-1"):
        return None
    return reply.split(b"\r\n")[1].decode()


def queue_tasks(python: Path, cwd: Path, env: dict[str, str], tasks: int) -> None:
    code = (
        "import os; from celery import Celery; "
        "app = Celery(broker=os.environ['REDIS_URL']); "
        f"[app.send_task('bench.count', queue='{QUEUE}') for _ in range({tasks})]"
    )
    subprocess.run([python, "-c", code], cwd=cwd, env=env, check=True, timeout=300)


def drain(stream) -> None:
    for _ in iter(lambda: stream.read(65536), b""):
        pass


def one_round(
    name: str, python: Path, project: Path, env: dict[str, str], port: int, tasks: int
) -> float:
    """Tasks per second of one worker run over `tasks` queued tasks."""
    redis_command(port, "FLUSHALL")
    queue_tasks(python, project, env, tasks)
    app = "config.celery_app" if name.startswith("ours") else "bare_app"
    env = {
        **env,
        "BENCH_SAME_SETTINGS": "1" if name == "bare, same settings" else "",
        "CELERY_TASK_EVENTS": "true" if name == "ours, task events on" else "false",
    }
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", app, "worker", "--pool=prefork", "--concurrency=1",
         "-Q", QUEUE, "-I", "bench_tasks", "--without-mingle", "--without-gossip",
         "--loglevel=INFO"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    reader = threading.Thread(target=drain, args=(worker.stdout,), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while bulk_value(redis_command(port, "GET", "bench:last")) is None:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name}: the worker stopped or took over 300 s")
            time.sleep(0.2)
        first = float(bulk_value(redis_command(port, "GET", "bench:first")) or 0)
        last = float(bulk_value(redis_command(port, "GET", "bench:last")) or 0)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return (tasks - 1) / (last - first)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    cookiecutter = Path(sys.executable).with_name("cookiecutter")
    subprocess.run(
        [cookiecutter, "--no-input", "-o", workdir, TEMPLATE], check=True, stdout=sys.stderr
    )
    project = workdir / SLUG
    (project / "bench_tasks.py").write_text(TASKS_MODULE)
    (project / "bare_app.py").write_text(BARE_APP)
    python = venv_for(project) / "bin" / "python"
    try:
        with redis_server() as port:
            url = f"redis://127.0.0.1:{port}/0"
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "LOG_FORMAT": "json",
                "REDIS_URL": url,
                "BENCH_COUNTER_URL": url,  # db 0, where redis_command() reads
                "BENCH_TASKS": str(args.tasks),
                "CELERY_PROBE_DIR": str(workdir / "probes"),
                "METRICS_WORKER_PORT": "0",
                "SENTRY_DSN": "",
                "PYTHONPATH": str(project),
            }
            rates: dict[str, list[float]] = {
                "bare": [],
                "bare, same settings": [],
                "ours": [],
                "ours, task events on": [],
            }
            for number in range(args.rounds):
                names = list(rates)
                for name in names if number % 2 == 0 else reversed(names):
                    rate = one_round(name, python, project, env, port, args.tasks)
                    rates[name].append(rate)
                    print(f"round {number + 1} {name}: {rate:.0f} tasks/s", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{args.tasks} trivial tasks per round, {args.rounds} interleaved rounds, prefork,")
    print(f"one child, tasks per second on {platform.machine()}:\n")
    print("| round | " + " | ".join(rates) + " |")
    print("| --- |" + " ---: |" * len(rates))
    for number in range(args.rounds):
        print(f"| {number + 1} | " + " | ".join(f"{r[number]:.0f}" for r in rates.values()) + " |")
    for name, base in (
        ("ours", "bare"),
        ("ours", "bare, same settings"),
        ("ours, task events on", "ours"),
    ):
        ratios = [o / b for o, b in zip(rates[name], rates[base], strict=True)]
        print(f"\nMedian of per-round ratios, {name} / {base}: **{statistics.median(ratios):.2f}**")


if __name__ == "__main__":
    main()
