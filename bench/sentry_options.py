"""What each Sentry option costs: requests/s of a trivial view under gunicorn.

    python bench/sentry_options.py [--project RENDERED_PROJECT] [--rounds 5] [--seconds 2]

Without --project the template is rendered with its defaults into a temporary
folder. Either way the render's dependencies come from a cached venv
(scripts/venvs.py); the project is not installed, servers run from its folder.

Method
- One gunicorn (1 sync worker) per variant, all started up front on loopback,
  production settings, JSON logs to /dev/null; the trivial view is GET /bench/.
- Sentry variants send to a local sink (another process that answers 200 to
  every envelope), traces at 0.1 unless the variant says otherwise.
- Rounds are interleaved: each round measures every variant once, in a rotated
  order, for --seconds after a short warm-up; figures are medians over rounds,
  ratios are to the variant without Sentry.
- Two figures: requests/s, and the gunicorn worker's CPU time per request (from
  /proc). On a shared machine throughput moves with whatever else runs; CPU per
  request much less, and its ratio is the throughput ratio of a CPU-bound server.
- The load comes from this process: 8 threads, one request per connection
  (gunicorn's sync worker closes it anyway), so server and client share the
  2 cores of a CI machine. Ratios are what to compare, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE_DIR / "scripts"))

from venvs import venv_for  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLIENT_THREADS = 8
MAX_RUNTIME_S = 900
START_TIMEOUT_S = 120  # every server boots at once on 2 cores

# name -> (description, Python expression run in the server with `opts` (our
# sentry_sdk.init options) and the integration classes in scope; None = no Sentry).
VARIANTS: dict[str, tuple[str, str | None]] = {
    "no_sentry": ("no SENTRY_DSN (baseline)", None),
    "plain": (
        "sentry_sdk.init(dsn, integrations=[DjangoIntegration()], traces_sample_rate=0.1)",
        "opts.clear(); opts.update(dsn=DSN, traces_sample_rate=0.1, integrations=[DJANGO()]);"
        " keep_wrappers()",
    ),
    "ours": ("our defaults (monitoring/sentry/options.py)", "pass"),
    "wrapped_middleware": (
        "ours, with the Django integration's middleware wrappers left in place",
        "keep_wrappers()",
    ),
    "ours_errors_only": ("ours, traces 0 (errors only)", "set_rate(opts, 0.0)"),
    "middleware_spans": (
        "ours + DjangoIntegration(middleware_spans=True)",
        "set_django(opts, middleware_spans=True)",
    ),
    "signals_spans": (
        "ours + DjangoIntegration(signals_spans=True)",
        "set_django(opts, signals_spans=True)",
    ),
    "cache_spans": (
        "ours + DjangoIntegration(cache_spans=True)",
        "set_django(opts, cache_spans=True)",
    ),
    "no_log_breadcrumbs": (
        "ours, LoggingIntegration(level=None): no log breadcrumbs",
        "set_logging(opts, level=None)",
    ),
    "no_sessions": (
        "ours, auto_session_tracking=False (no release-health sessions)",
        "opts['auto_session_tracking'] = False",
    ),
    "no_stacktrace": ("ours, attach_stacktrace=False", "opts['attach_stacktrace'] = False"),
    "few_breadcrumbs": ("ours, max_breadcrumbs=10", "opts['max_breadcrumbs'] = 10"),
    "no_client_reports": ("ours, send_client_reports=False", "opts['send_client_reports'] = False"),
    "no_scrubbing": (
        "ours without before_send/before_send_transaction",
        "opts['before_send'] = opts['before_send_transaction'] = None",
    ),
    "rate_not_sampler": (
        "ours, traces_sample_rate=0.1 instead of traces_sampler",
        "opts.pop('traces_sampler'); opts['traces_sample_rate'] = 0.1",
    ),
}

# Imported by gunicorn in each server: GET /bench/ plus the project's own URLs.
APP_MODULE = """
import os

from django.http import HttpResponse
from django.urls import include, path


def bench(request):
    return HttpResponse("ok")


def __getattr__(name):
    if name == "urlpatterns":
        return [path("bench/", bench), path("", include("config.urls"))]
    raise AttributeError(name)


def set_django(opts, **changes):
    from sentry_sdk.integrations.django import DjangoIntegration

    current = next(i for i in opts["integrations"] if isinstance(i, DjangoIntegration))
    settings = {
        "transaction_style": current.transaction_style,
        "middleware_spans": current.middleware_spans,
        "signals_spans": current.signals_spans,
        "cache_spans": current.cache_spans,
        **changes,
    }
    replace(opts, DjangoIntegration, DjangoIntegration(**settings))


def set_logging(opts, **changes):
    from sentry_sdk.integrations.logging import LoggingIntegration

    replace(opts, LoggingIntegration, LoggingIntegration(**changes))


def keep_wrappers():
    from __SLUG__.monitoring.sentry import startup

    # init_sentry() looks the function up when it runs, after this change.
    startup.load_middleware_unwrapped = lambda: None


def set_rate(opts, rate):
    opts.pop("traces_sampler")
    opts["traces_sample_rate"] = rate
__PROFILING_OFF__

def replace(opts, kind, integration):
    opts["integrations"] = [i for i in opts["integrations"] if not isinstance(i, kind)]
    opts["integrations"].append(integration)


def application_factory():
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from sentry_sdk.integrations.django import DjangoIntegration

    change = os.environ.get("BENCH_CHANGE")
    if change:
        from __SLUG__.monitoring.sentry import startup

        build = startup.build_options
        DSN = os.environ["SENTRY_DSN"]

        def build_options():
            opts = build()
            scope = {**globals(), "DSN": DSN, "DJANGO": DjangoIntegration}
            exec(change, scope, {"opts": opts})
            return opts

        startup.build_options = build_options
    application = get_wsgi_application()
    settings.ROOT_URLCONF = __name__
    return application
"""

SINK = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def render_project(workdir: Path) -> Path:
    cookiecutter = shutil.which("cookiecutter") or str(Path(sys.executable).parent / "cookiecutter")
    subprocess.run([cookiecutter, "--no-input", "-o", str(workdir), str(TEMPLATE_DIR)], check=True)
    return workdir / "my_project"


def server_env(project: Path, app_dir: Path, dsn: str | None, change: str | None) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SENTRY_", "DJANGO_", "BENCH_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ENVIRONMENT="production",
        LOG_FORMAT="json",
        # The bench app, then the render (run from its folder, not installed).
        PYTHONPATH=os.pathsep.join((str(app_dir), str(project))),
    )
    if dsn:
        env["SENTRY_DSN"] = dsn
        env["SENTRY_TRACES_SAMPLE_RATE"] = "0.1"
        env["BENCH_CHANGE"] = change or "pass"
    return env


def start_server(
    project: Path, python: Path, env: dict
) -> tuple[subprocess.Popen, tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    address = listener.getsockname()
    command = [str(python), "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}"]
    if (project / "gunicorn.conf.py").exists():
        command += ["-c", "gunicorn.conf.py"]
    # One worker for the whole run: its pid is read once (gunicorn.conf.py recycles
    # workers after max_requests, which a few seconds of load reach).
    command += ["--workers", "1", "--max-requests", "0", "bench_sentry_app:application_factory()"]
    process = subprocess.Popen(
        command,
        cwd=project,
        env=env,
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    return process, address


def get(address: tuple[str, int]) -> bool:
    with socket.create_connection(address, timeout=5) as connection:
        connection.sendall(b"GET /bench/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    return data.startswith(b"HTTP/1.1 200")


def wait_ready(process: subprocess.Popen, address: tuple[str, int], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server {name} exited with {process.returncode}")
        try:
            if get(address):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server {name} did not answer GET /bench/ within {START_TIMEOUT_S} s")


def worker_pid(master: subprocess.Popen) -> int:
    """The pid of gunicorn's only worker process."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return int(children[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(address: tuple[str, int], pid: int, seconds: float) -> tuple[float, float]:
    """(requests/s, server CPU ms per request) over `seconds` of closed-loop load."""
    done = [0] * CLIENT_THREADS
    failed = [0] * CLIENT_THREADS
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        while time.monotonic() < stop_at:
            try:
                ok = get(address)
            except OSError:
                ok = False
            if ok:
                done[index] += 1
            else:
                failed[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENT_THREADS)]
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu_before
    if sum(failed):
        print(f"  warning: {sum(failed)} failed requests", file=sys.stderr)
    requests = max(sum(done), 1)
    return requests / elapsed, 1000 * cpu / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--project", type=Path, help="a rendered project")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=1.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=0.2, help="unmeasured load first")
    parser.add_argument("--only", nargs="*", help="variant names (no_sentry is always run)")
    args = parser.parse_args()
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="bench-sentry-") as tmp:
        tmp_dir = Path(tmp)
        project = args.project.resolve() if args.project else render_project(tmp_dir)
        python = venv_for(project) / "bin" / "python"
        slug = next(p.parents[2].name for p in project.glob("*/monitoring/sentry/options.py"))
        sentry_source = (project / slug / "monitoring/sentry/options.py").read_text()
        # Profiling is a separate choice (and cost): switch it off to compare like with like.
        profiling_off = (
            "\n\ndef _no_profiling(opts):\n    opts.pop('profile_session_sample_rate', None)\n"
            if "profile_session_sample_rate" in sentry_source
            else ""
        )
        app_dir = tmp_dir / "app"
        app_dir.mkdir()
        (app_dir / "bench_sentry_app.py").write_text(
            APP_MODULE.replace("__SLUG__", slug).replace("__PROFILING_OFF__", profiling_off)
        )
        sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
        dsn = f"http://public@127.0.0.1:{sink.stdout.readline().strip()}/1"
        names = [
            "no_sentry",
            *[n for n in VARIANTS if n != "no_sentry" and (not args.only or n in args.only)],
        ]
        servers = {}
        try:
            for name in names:
                change = VARIANTS[name][1]
                if change is not None and profiling_off:
                    change += "; _no_profiling(opts)"
                env = server_env(project, app_dir, dsn if change is not None else None, change)
                servers[name] = start_server(project, python, env)
            for name, (process, address) in servers.items():
                wait_ready(process, address, name)
            pids = {name: worker_pid(process) for name, (process, _) in servers.items()}
            rps: dict[str, list[float]] = {name: [] for name in names}
            cpu: dict[str, list[float]] = {name: [] for name in names}
            for round_index in range(args.rounds):
                order = names[round_index % len(names) :] + names[: round_index % len(names)]
                for name in order:
                    if time.monotonic() - started > MAX_RUNTIME_S:
                        raise SystemExit("stopped: over the time budget")
                    address = servers[name][1]
                    measure(address, pids[name], args.warmup)
                    throughput, cpu_ms = measure(address, pids[name], args.seconds)
                    rps[name].append(throughput)
                    cpu[name].append(cpu_ms)
                print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            for process, _ in servers.values():
                process.terminate()
            for process, _ in servers.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            sink.terminate()
            sink.wait(timeout=5)

    base_rps = statistics.median(rps["no_sentry"])
    base_cpu = statistics.median(cpu["no_sentry"])
    rows = []
    print("| variant | what | req/s | x | server CPU ms/req | x (CPU) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in names:
        median_rps, median_cpu = statistics.median(rps[name]), statistics.median(cpu[name])
        rows.append({"variant": name, "rps": rps[name], "cpu_ms": cpu[name]})
        print(
            f"| {name} | {VARIANTS[name][0]} | {median_rps:.0f} | {median_rps / base_rps:.2f} "
            f"| {median_cpu:.3f} | {base_cpu / median_cpu:.2f} |"
        )
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"sentry_options-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps({"rounds": args.rounds, "seconds": args.seconds, "rows": rows}, indent=1)
    )
    print(f"\nraw figures: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
