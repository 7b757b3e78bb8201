"""Benchmark the generated health endpoints (template repo only; not generated).

    /work/main/.venv/bin/python bench/bench_health.py \
        --database-url postgres://postgres@127.0.0.1:5432/health_bench \
        --redis-url redis://127.0.0.1:6379/3

Renders the template, installs its dependencies in a cached venv (plus
django-health-check, for this bench only), writes a bench-only settings module and
URLconf into the render, then measures on loopback:

1. worst-case latency of /health/ready/ and of django-health-check's view (Database,
   Cache and Redis checks, its defaults) when Redis, then PostgreSQL, accepts TCP and
   never answers; once with the template's bounded client timeouts and once with stock
   client settings (no connect/socket timeouts), gunicorn sync worker, timeout 30 s;
2. /health/live/ requests per second against a bare JsonResponse view.

Every loop is bounded; every server binds 127.0.0.1 and is stopped at the end.
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

TEMPLATE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE / "scripts"))

from ports import hanging_server  # noqa: E402
from venvs import shared_venv  # noqa: E402

SLUG = "my_project"
HEALTH_CHECK_REQUIREMENT = "django-health-check>=4,<5"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
CLIENT_TIMEOUT = 40.0

BENCH_SETTINGS = '''"""Bench only: production settings plus django-health-check and a bare view."""

import os

from .production import *  # noqa: F403
from .production import CACHES, DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "health_check"]
ROOT_URLCONF = "config.bench_urls"
if os.environ.get("BENCH_STOCK_CLIENTS"):
    # What a project without the template's client timeouts runs with.
    DATABASES["default"].get("OPTIONS", {}).pop("connect_timeout", None)
    CACHES["default"].pop("OPTIONS", None)
'''

BENCH_URLS = '''"""Bench only: the project's URLs, django-health-check's view and a bare view."""

import os

from django.http import JsonResponse
from django.urls import path
from health_check.views import HealthCheckView
from redis.asyncio import Redis

from config.urls import urlpatterns as project_urlpatterns


def bare(request):
    return JsonResponse({"status": "alive"})


def redis_client():
    return Redis.from_url(os.environ["REDIS_URL"])


urlpatterns = [
    *project_urlpatterns,
    path("bench/bare/", bare),
    path(
        "bench/dhc/",
        HealthCheckView.as_view(
            checks=[
                "health_check.checks.Database",
                "health_check.checks.Cache",
                ("health_check.contrib.redis.Redis", {"client_factory": redis_client}),
            ]
        ),
    ),
]
'''


def run(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> None:
    # Tool output goes to stderr: stdout is the Markdown report.
    subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, check=True, timeout=600, stdout=sys.stderr
    )


def render(workdir: Path) -> Path:
    cookiecutter = Path(sys.executable).with_name("cookiecutter")
    run(cookiecutter, "--no-input", "-o", workdir, TEMPLATE)
    project = workdir / SLUG
    (project / "config/settings/bench.py").write_text(BENCH_SETTINGS)
    (project / "config/bench_urls.py").write_text(BENCH_URLS)
    return project


def venv_for_bench(project: Path) -> Path:
    """The render's dependencies plus django-health-check (the project is not installed)."""
    pyproject = project / "pyproject.toml"
    install = ["-r", str(pyproject), HEALTH_CHECK_REQUIREMENT]
    return shared_venv(pyproject.read_bytes() + HEALTH_CHECK_REQUIREMENT.encode(), install)


def base_env(
    project: Path, database_url: str, redis_url: str, stock: bool = False
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HEALTH_"))}
    env.update(
        PYTHONPATH=str(project),  # the render runs from its folder, not installed
        DJANGO_SETTINGS_MODULE="config.settings.bench",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        ENVIRONMENT="production",
        HEALTH_CHECK_TIMEOUT="1.0",
        LOG_LEVEL="ERROR",
    )
    if stock:
        env["BENCH_STOCK_CLIENTS"] = "1"
    return env


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def gunicorn(project: Path, python: Path, env: dict[str, str], workers: int = 1) -> Iterator[int]:
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [str(python), "-m", "gunicorn", "config.wsgi", "--bind", "127.0.0.1:0",
             "--workers", str(workers), "--timeout", "30", "--graceful-timeout", "5"],
            cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield wait_serving(process, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_serving(process: subprocess.Popen, log) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        log.seek(0)
        if match := LISTENING.search(log.read()):
            port = int(match.group(1))
            try:
                if request(port, "/health/live/")[0] == 200:
                    return port
            except OSError:
                pass
        time.sleep(0.1)
    log.seek(0)
    raise RuntimeError(f"gunicorn did not start:\n{log.read()}")


def request(port: int, path: str, timeout: float = CLIENT_TIMEOUT) -> tuple[int, str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace"), time.monotonic() - started
    except (OSError, http.client.HTTPException) as exc:
        return 0, type(exc).__name__, time.monotonic() - started
    finally:
        conn.close()


def latency(
    project: Path, python: Path, env: dict[str, str], path: str, count: int, port: int
) -> dict:
    with gunicorn(project, python, env) as server_port:
        answers = [request(server_port, path) for _ in range(count)]
    statuses = sorted({status or "no answer" for status, _, _ in answers}, key=str)
    leaks = any("127.0.0.1" in body or re.search(rf"\b{port}\b", body) for _, body, _ in answers)
    return {
        "worst_s": max(seconds for _, _, seconds in answers),
        "statuses": ", ".join(map(str, statuses)),
        "leaks": leaks,
    }


def throughput(port: int, path: str, seconds: float, threads: int = 2) -> float:
    deadline = time.monotonic() + seconds
    counts = [0] * threads

    def hammer(index: int) -> None:
        while time.monotonic() < deadline:
            if request(port, path, timeout=5)[0] == 200:
                counts[index] += 1

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--requests", type=int, default=3, help="per latency scenario")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput round")
    args = parser.parse_args()
    if not (args.database_url and args.redis_url):
        parser.error("--database-url and --redis-url (or DATABASE_URL / REDIS_URL) are needed")

    with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
        project = render(Path(tmp))
        python = venv_for_bench(project) / "bin" / "python"
        healthy = base_env(project, args.database_url, args.redis_url)
        run(python, "manage.py", "migrate", "-v0", cwd=project, env=healthy)

        rows = []
        for stock in (False, True):
            for fault in ("Redis", "PostgreSQL"):
                with hanging_server() as port:
                    env = base_env(project, args.database_url, args.redis_url, stock)
                    if fault == "Redis":
                        env["REDIS_URL"] = env["CELERY_BROKER_URL"] = with_port(
                            args.redis_url, port
                        )
                    else:
                        env["DATABASE_URL"] = with_port(args.database_url, port)
                    for view, path in (("template /health/ready/", "/health/ready/"),
                                       ("django-health-check", "/bench/dhc/")):  # fmt: skip
                        result = latency(project, python, env, path, args.requests, port)
                        rows.append((stock, fault, view, result))
                        print(f"# {'stock' if stock else 'bounded'} {fault} {view}: {result}",
                              file=sys.stderr, flush=True)  # fmt: skip

        ratios = []
        with gunicorn(project, python, healthy) as port:
            for path in ("/health/live/", "/bench/bare/"):  # warm up
                throughput(port, path, 1.0)
            live, bare = [], []
            for _ in range(args.rounds):
                live.append(throughput(port, "/health/live/", args.seconds))
                bare.append(throughput(port, "/bench/bare/", args.seconds))
            ratios = [a / b for a, b in zip(live, bare, strict=True)]

    print("| client timeouts | hung dependency | view | worst of "
          f"{args.requests} requests | statuses | body shows host/port |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for stock, fault, view, result in rows:
        print(f"| {'stock' if stock else 'template (bounded)'} | {fault} | {view} | "
              f"{result['worst_s']:.2f} s | {result['statuses']} | "
              f"{'yes' if result['leaks'] else 'no'} |")  # fmt: skip
    print()
    print(f"/health/live/: {statistics.median(live):.0f} req/s, bare JsonResponse view: "
          f"{statistics.median(bare):.0f} req/s, ratio {statistics.median(ratios):.2f}x "
          f"(lowest round {min(ratios):.2f}x) "
          f"(median of {args.rounds} rounds of {args.seconds:g} s, 2 client threads, "
          "1 gunicorn sync worker)")  # fmt: skip
    print(json.dumps({"live": live, "bare": bare}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
