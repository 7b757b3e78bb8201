"""CPU cost of one Celery worker liveness probe: ours vs `celery inspect ping`.

    /work/main/.venv/bin/python bench/bench_celery_probes.py [--rounds 15]

Renders the template with its defaults, starts a redis-server of its own and a
real worker (prefork, one child) on loopback, then runs, round by round and
interleaved, the two probe commands as a kubelet or Docker runs them: a fresh
process each time. CPU is user + system time of the probe process and its
children (os.wait4), wall time is measured around it. Prints Markdown for
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE / "scripts"))

from ports import redis_server  # noqa: E402
from venvs import venv_for  # noqa: E402

SLUG = "my_project"


def run_measured(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(CPU ms, wall ms, exit status) of one run of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = (time.perf_counter() - start) * 1000
    return (usage.ru_utime + usage.ru_stime) * 1000, wall, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-probes-"))
    cookiecutter = Path(sys.executable).with_name("cookiecutter")
    subprocess.run(
        [cookiecutter, "--no-input", "-o", workdir, TEMPLATE], check=True, stdout=sys.stderr
    )
    project = workdir / SLUG
    python = venv_for(project) / "bin" / "python"
    probes = workdir / "probes"
    node = f"bench@{platform.node()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CELERY_PROBE_DIR": str(probes),
        "METRICS_WORKER_PORT": "0",
        "LOG_LEVEL": "WARNING",
    }
    try:
        with redis_server() as port:
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            worker = subprocess.Popen(
                [python, "-m", "celery", "-A", "config.celery_app", "worker", "-c", "1",
                 "-n", node],
                cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                probe = ["sh", "scripts/celery_probe.sh"]
                deadline = time.monotonic() + 60
                while run_measured([*probe, "worker-ready"], project, env)[2] != 0:
                    if time.monotonic() > deadline:
                        raise SystemExit("the worker did not become ready within 60 s")
                    time.sleep(0.2)
                variants = {
                    "sh scripts/celery_probe.sh worker-alive": [*probe, "worker-alive"],
                    # What the same check costs in Python: the interpreter's start is most of it.
                    "python -S -c <stat the file>": [
                        str(python), "-S", "-c",
                        f"import os, time; time.time() - os.stat('{probes}/worker.alive').st_mtime",
                    ],
                    "celery inspect ping -d <node>": [
                        str(python), "-m", "celery", "-A", "config.celery_app", "inspect", "ping",
                        "-d", node, "--timeout", "10",
                    ],
                }  # fmt: skip
                samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
                for _ in range(args.rounds):
                    for name, command in variants.items():
                        cpu, wall, status = run_measured(command, project, env)
                        if status != 0:
                            raise SystemExit(f"{name} failed (exit {status}) on a healthy worker")
                        samples[name].append((cpu, wall))
            finally:
                worker.terminate()
                worker.wait(timeout=30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    cpu = {name: statistics.median(c for c, _ in values) for name, values in samples.items()}
    wall = {name: statistics.median(w for _, w in values) for name, values in samples.items()}
    print(f"Worker liveness probe, {args.rounds} interleaved rounds, median per probe:\n")
    print("| probe | CPU ms | wall ms |")
    print("| --- | ---: | ---: |")
    for name in variants:
        print(f"| `{name}` | {cpu[name]:.1f} | {wall[name]:.0f} |")
    ours, python_probe, ping = variants
    print(f"\nCPU ratio ours / inspect ping: 1/{cpu[ping] / cpu[ours]:.0f}", end="; ")
    print(f"a Python probe / inspect ping: 1/{cpu[ping] / cpu[python_probe]:.0f}")


if __name__ == "__main__":
    main()
