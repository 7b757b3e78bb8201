"""Requests per second of a trivial view behind gunicorn, per middleware stack.

    .venv/bin/python bench/bench_requests.py [--view trivial|page] [--rounds 5] [--duration 6]
        [--write BENCHMARKS.md]

Renders the template with its defaults, installs it in a cached venv (plus
django-structlog, for comparison only), writes a bench-only settings module and
URLconf into the render, and starts one gunicorn per variant on 127.0.0.1 (one
sync worker each, pinned to CPU 0 when taskset exists). `wrk` (Debian package
`wrk`) loads them in interleaved rounds from the other CPU, so drift on the
machine hits every variant alike. Each server writes its log lines (one JSON
access line per request where the variant has one) to a pipe that another
process copies to a file, as a container's stdout is read by its runtime
(--logs pipe, the default); the lines are counted at the end. --logs file has
the server write the file itself, --logs devnull throws the lines away.

Variants (BENCH_VARIANT in the bench settings):
  bare              Django's own middleware only, nothing of ours
  ours              + RequestContextMiddleware and its JSON access line
  ours-no-line      ours with the access logger switched off: the middleware alone
  bare+write        bare + a bench-only middleware writing one fixed line of the
                    access line's size per request, as StreamHandler does (write,
                    flush): the floor of any one-line-per-request log
  django-structlog  Django's middleware + django_structlog's RequestMiddleware
  full-sentry       the production settings as generated (every middleware we
                    ship) with SENTRY_DSN at a local envelope sink, traces 0.1,
                    profiling off (as in 90 % of processes at the default session
                    rate of 0.1); only when the render has monitoring/sentry/
  full-sentry-profiled  the same in a profiled process (SENTRY_PROFILES_SAMPLE_RATE=1);
                    only when the render has profiling

Views (--view):
  trivial  GET /bench/ returns "ok": the worst case for any per-request cost
  page     GET /bench/page/: two queries on PostgreSQL (--database-url; the
           database is created, migrated and seeded with 20 users if needed) and
           a small Django template, closer to what an application view does
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR / "scripts"))

from ports import free_port  # noqa: E402
from venvs import shared_venv  # noqa: E402

SLUG = "my_project"
VIEW_PATHS = {"trivial": "/bench/", "page": "/bench/page/"}
STRUCTLOG_REQUIREMENT = "django-structlog>=9,<11"
PAGE_USERS = 20
LOG_MODES = {
    "pipe": "a pipe copied to a file by another process",
    "file": "a file",
    "devnull": "/dev/null",
}

BENCH_SETTINGS = '''"""Benchmark-only settings (bench/bench_requests.py); not in the template."""

import os

from .production import *  # noqa: F403
from .production import INSTALLED_APPS, LOGGING, MIDDLEWARE

VARIANT = os.environ["BENCH_VARIANT"]
OURS = "{slug}.monitoring.middleware.RequestContextMiddleware"
# Django's own stack, as a project without our monitoring would have it.
DJANGO_ONLY = [m for m in MIDDLEWARE if m.startswith(("django.", "whitenoise."))]

if VARIANT == "bare":
    MIDDLEWARE = DJANGO_ONLY
elif VARIANT == "ours":
    MIDDLEWARE = [OURS, *DJANGO_ONLY]
elif VARIANT == "ours-no-line":
    MIDDLEWARE = [OURS, *DJANGO_ONLY]
    LOGGING["loggers"]["{slug}.monitoring.access"] = {{"level": "CRITICAL"}}
elif VARIANT == "bare+write":
    MIDDLEWARE = ["config.bench_urls.OneWriteMiddleware", *DJANGO_ONLY]
elif VARIANT == "django-structlog":
    INSTALLED_APPS = [*INSTALLED_APPS, "django_structlog"]
    MIDDLEWARE = [*DJANGO_ONLY, "django_structlog.middlewares.RequestMiddleware"]
elif not VARIANT.startswith("full-sentry"):  # full-sentry*: the generated settings, untouched
    raise ValueError(f"unknown BENCH_VARIANT {{VARIANT!r}}")

ROOT_URLCONF = "config.bench_urls"
'''

BENCH_URLS = '''"""Benchmark-only URLconf: a trivial view and a small page."""

import sys

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

PAGE_USERS = __PAGE_USERS__
PAGE = engines["django"].from_string(
    "<p>{{ total }} users</p><ul>{% for user in users %}"
    "<li>{{ user.username }}, joined {{ user.date_joined|date:'Y-m-d' }}</li>{% endfor %}</ul>"
)


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


def page(request: HttpRequest) -> HttpResponse:
    users = list(User.objects.order_by("id")[:PAGE_USERS])
    return HttpResponse(PAGE.render({"users": users, "total": User.objects.count()}))


urlpatterns = [path("bench/", hello), path("bench/page/", page)]

# An access line's size and shape, with nothing computed but the path.
LINE_HEAD = (
    '{"timestamp":"2026-11-26T09:00:00.000000Z","level":"info",'
    '"logger":"my_project.monitoring.access","message":"request","environment":"production",'
    '"release":"0.1.0","request_id":"0123456789abcdef0123456789abcdef","method":"GET","path":"'
)
LINE_TAIL = '","status":200,"duration_ms":0.12,"client_ip":"127.0.0.1"}\\n'


class OneWriteMiddleware:
    """One line per request written as logging.StreamHandler does: write, then flush."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        sys.stdout.write(LINE_HEAD + request.path + LINE_TAIL)
        sys.stdout.flush()
        return response
'''

# Creates the page view's database if needed (run with the bench venv's Python).
CREATE_DATABASE = """
import sys, psycopg
from psycopg import sql
url, name = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True) as connection:
    if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
"""

SEED_USERS = f"""
from django.contrib.auth.models import User
missing = {PAGE_USERS} - User.objects.count()
User.objects.bulk_create(User(username=f"user{{n}}") for n in range(missing))
"""

# Accepts Sentry envelopes (and anything else) and answers 200 at once.
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        with open(sys.argv[2], "a") as counter:
            counter.write(".")

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)
server.serve_forever()
"""


@dataclass
class Server:
    variant: str
    process: subprocess.Popen
    port: int
    path: str
    log_path: Path
    worker_pid: int
    log_reader: subprocess.Popen | None = None
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0


def pinned(cpu: int, command: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *command] if taskset and os.cpu_count() > 1 else command


def render(workdir: Path) -> Path:
    from cookiecutter.main import cookiecutter

    cookiecutter(str(REPO_DIR), no_input=True, output_dir=str(workdir))
    project = workdir / SLUG
    (project / "config" / "settings" / "bench.py").write_text(BENCH_SETTINGS.format(slug=SLUG))
    bench_urls = BENCH_URLS.replace("__PAGE_USERS__", str(PAGE_USERS))
    (project / "config" / "bench_urls.py").write_text(bench_urls)
    return project


def venv_for_bench(project: Path) -> Path:
    pyproject = project / "pyproject.toml"
    install = ["-r", str(pyproject), STRUCTLOG_REQUIREMENT]
    return shared_venv(pyproject.read_bytes() + STRUCTLOG_REQUIREMENT.encode(), install)


def prepare_database(project: Path, venv: Path, env: dict) -> None:
    """Create, migrate and seed the page view's database (idempotent)."""
    url = env["DATABASE_URL"]
    server_url, _, name = url.rpartition("/")
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-c", CREATE_DATABASE, f"{server_url}/postgres", name], check=True)
    env = {**env, "BENCH_VARIANT": "bare"}
    for command in (["migrate", "-v0"], ["shell", "-c", SEED_USERS]):
        subprocess.run([python, "manage.py", *command], cwd=project, env=env, check=True)


def start_server(
    variant: str, project: Path, venv: Path, env: dict, logs: Path, mode: str, path: str
) -> Server:
    log_path = logs / f"{variant}.log"
    port = free_port()
    command = [
        str(venv / "bin" / "python"), "-m", "gunicorn", "-c", "gunicorn.conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
        "--no-control-socket", "config.wsgi",
        # One worker for the whole run: gunicorn.conf.py recycles workers every ~1,000
        # requests, and a new worker's imports would be counted as request time.
        "--max-requests", "0",
    ]  # fmt: skip
    reader = None
    with open(log_path if mode != "devnull" else os.devnull, "w") as log:
        if mode == "pipe":
            reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=log)
        process = subprocess.Popen(
            pinned(0, command),
            cwd=project,
            env={**env, "BENCH_VARIANT": variant},
            stdout=reader.stdin if reader else log,
            stderr=subprocess.STDOUT,
        )
    if reader:
        reader.stdin.close()  # gunicorn holds the write end now
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{variant}: gunicorn exited (see {log_path})")
        workers = children.read_text().split() if children.exists() else []
        if workers and answers(port, path):
            return Server(variant, process, port, path, log_path, int(workers[0]), reader)
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{variant}: gunicorn did not answer within 30 s")


def answers(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            return sock.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


def cpu_ns(pid: int) -> int:
    """CPU time the process has used, in nanoseconds (scheduler statistics)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def run_wrk(server: Server, seconds: int, connections: int) -> tuple[float, int, int]:
    """(requests/s, requests, errors) of one wrk run against *server*."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        f"http://127.0.0.1:{server.port}{server.path}",
    ]  # fmt: skip
    output = subprocess.run(
        pinned(1, command), capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read \d+, write \d+, timeout (\d+)", output
    )
    if socket_errors:
        # gunicorn's sync worker closes every connection: wrk counts that as a read error.
        errors += int(socket_errors.group(1)) + int(socket_errors.group(2))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return rate, requests, errors


def access_lines(log_path: Path, path: str) -> int | str:
    if not log_path.exists():
        return "n/a"
    count = 0
    for line in log_path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("path") == path or record.get("message") == "request_finished":
            count += 1
    return count


def paired_ratios(values: list[float], bases: list[float]) -> list[float]:
    """Round-by-round ratios: both runs of a round saw the same machine conditions."""
    return [value / base for value, base in zip(values, bases, strict=True)]


def spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def report(servers: list[Server], args: argparse.Namespace, skipped: str) -> str:
    bare = next(s for s in servers if s.variant == "bare")
    rows = [
        "| variant | req/s (median) | req/s ratio to bare | worker CPU per request"
        " | CPU ratio (bare CPU / variant CPU) | access lines / requests |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for server in servers:
        rate_ratios = paired_ratios(server.rates, bare.rates)
        cpu_ratios = paired_ratios(bare.cpu_us, server.cpu_us)
        rows.append(
            f"| {server.variant} | {statistics.median(server.rates):.0f} "
            f"| {spread(rate_ratios)} | {statistics.median(server.cpu_us):.0f} µs "
            f"| {spread(cpu_ratios)} "
            f"| {access_lines(server.log_path, server.path)} / {server.requests} |"
        )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    notes = [
        "",
        f"Run {when}, GET {VIEW_PATHS[args.view]} ({args.view} view): "
        f"{args.rounds} interleaved rounds of {args.duration} s per variant, "
        f"wrk -t1 -c{args.connections}, gunicorn 1 sync worker, {os.cpu_count()} CPUs, "
        f"server logs to {LOG_MODES[args.logs]}.",
        f"Errors (connect/timeout/non-2xx): {sum(s.errors for s in servers)}.",
    ]
    if skipped:
        notes.append(skipped)
    return "\n".join(rows + notes)


def write_results(path: Path, text: str, view: str) -> None:
    """Replace the view's results block (between its two markers) in *path*."""
    suffix = "" if view == "trivial" else f"-{view}"
    start_marker = f"<!-- bench:results{suffix}:start -->"
    end_marker = f"<!-- bench:results{suffix}:end -->"
    content = path.read_text() if path.exists() else f"{start_marker}\n{end_marker}\n"
    start, end = content.index(start_marker), content.index(end_marker)
    path.write_text(content[: start + len(start_marker)] + "\n" + text + "\n" + content[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--view", choices=sorted(VIEW_PATHS), default="trivial")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/bench_requests",
        help="PostgreSQL database of the page view (created if missing)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--write", type=Path, help="update the results block of this file")
    parser.add_argument("--keep", action="store_true", help="keep the render and server logs")
    parser.add_argument("--logs", choices=sorted(LOG_MODES), default="pipe")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="bench-requests-"))
    project = render(workdir)
    venv = venv_for_bench(project)
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(project),  # the render runs from its folder, not installed
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": (
            args.database_url if args.view == "page" else f"sqlite:///{workdir / 'bench.sqlite3'}"
        ),
        "REDIS_URL": "redis://127.0.0.1:6379/15",  # never contacted by either view
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "ENVIRONMENT": "production",
    }
    if args.view == "page":
        prepare_database(project, venv, env)
    variants = ["bare", "ours", "ours-no-line", "bare+write", "django-structlog"]
    skipped = ""
    sink = None
    sentry_env: dict[str, str] = {}  # full-sentry only: every other variant runs without Sentry
    sentry_options = project / SLUG / "monitoring" / "sentry" / "options.py"
    if sentry_options.exists():
        sink_port = free_port()
        sink_count = workdir / "sink-envelopes"
        sink = subprocess.Popen(
            [sys.executable, "-c", SINK, str(sink_port), str(sink_count)],
            stdout=subprocess.DEVNULL,
        )
        sentry_env = {
            "SENTRY_DSN": f"http://public@127.0.0.1:{sink_port}/1",
            "SENTRY_TRACES_SAMPLE_RATE": "0.1",
        }
        variants.append("full-sentry")
        if "profile_session_sample_rate" in sentry_options.read_text():
            variants.append("full-sentry-profiled")
    else:
        skipped = "full-sentry skipped: this render has no monitoring/sentry/."

    servers: list[Server] = []
    try:
        path = VIEW_PATHS[args.view]
        for variant in variants:
            variant_env = env
            if variant.startswith("full-sentry"):
                # Whether a process is profiled is drawn once, at start (10 % by default):
                # each variant fixes it, so that the draw doesn't decide the figures.
                profiled = "1" if variant == "full-sentry-profiled" else "0"
                variant_env = {**env, **sentry_env, "SENTRY_PROFILES_SAMPLE_RATE": profiled}
            servers.append(
                start_server(variant, project, venv, variant_env, workdir, args.logs, path)
            )
        for server in servers:  # warm-up: imports, first requests, CPU caches
            server.requests += run_wrk(server, 2, args.connections)[1]
        for round_number in range(args.rounds):
            # Rotate the order so no variant always runs first or last.
            shift = round_number % len(servers)
            for server in servers[shift:] + servers[:shift]:
                cpu_before = cpu_ns(server.worker_pid)
                rate, requests, errors = run_wrk(server, args.duration, args.connections)
                server.cpu_us.append((cpu_ns(server.worker_pid) - cpu_before) / requests / 1000)
                server.rates.append(rate)
                server.requests += requests
                server.errors += errors
            print(
                f"round {round_number + 1}: "
                + ", ".join(f"{s.variant} {s.rates[-1]:.0f}" for s in servers),
                flush=True,
            )
    finally:
        for server in servers:
            server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.process.wait(timeout=30)
            if server.log_reader:
                server.log_reader.wait(timeout=30)
        if sink:
            sink.terminate()
            sink.wait(timeout=10)

    text = report(servers, args, skipped)
    if sink:
        envelopes = len((workdir / "sink-envelopes").read_text()) if sink_count.exists() else 0
        text += f"\nEnvelopes received by the local Sentry sink: {envelopes}."
    print(text)
    if args.write:
        write_results(args.write, text, args.view)
    if args.keep:
        print(f"render and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
