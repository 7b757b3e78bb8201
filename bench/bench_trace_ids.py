"""What trace ids cost the access line (issue 19): instructions per request, before and after.

    .venv/bin/python bench/bench_trace_ids.py [--count 2000] [--warmup 200] [--rounds 5]
        [--write BENCHMARKS.md]

Renders the template's defaults at three revisions: BEFORE (the parent of the commit
that added trace ids), TRACE_COMMIT (that commit) and this worktree (HEAD and any
uncommitted change), each with its venv (scripts/venvs.py; equal pyprojects share
one). Into each render go a bench-only settings module (the production settings,
ROOT_URLCONF at the driver) and _trace_ids_driver.py, which drives the access line
in-process: RequestContextMiddleware alone around a trivial view, then Django's WSGI
handler with every generated middleware, each without and with a W3C `traceparent`,
JSON lines written to a file as production writes them to stdout.

Two measures, both compared within one run:
- instructions per request under valgrind's callgrind, counting the measured loops
  only (the driver runs them inside ffi_call, the one function collected; a first
  loop of no request checks that nothing else is): the stable figure on a busy
  machine. The revisions run at the same time, one valgrind each.
- CPU and wall time per request, in interleaved rounds (one process per revision and
  round, the order rotating), ratios taken round by round: the secondary figure.

Profiles stay in bench/results/trace_ids/ (callgrind_annotate reads them). The bound
of issue 19: the access line path (the middleware loop) after / before <= 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR / "scripts"))

from venvs import venv_for  # noqa: E402

SLUG = "my_project"
BEFORE = "af42b40^"
TRACE_COMMIT = "af42b40"
WORKTREE = "HEAD"
# What a render is made of (the bench's own files change no figure).
TEMPLATE_PATHS = (
    "{{cookiecutter.project_slug}}",
    "hooks",
    "cookiecutter.json",
    "local_extensions.py",
)
DRIVER = Path(__file__).with_name("_trace_ids_driver.py")
# The C function the driver runs each measured loop inside (run_inside_ffi_call).
COLLECTED_FUNCTION = "ffi_call"
RESULTS_DIR = REPO_DIR / "bench" / "results" / "trace_ids"
BOUND = 1.05
# The trace id of the driver's TRACEPARENT (the W3C specification's example).
INCOMING_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
# The first profile wraps a loop of no request: more than this means ffi_call
# collected something else too, and every figure would be wrong.
WRAPPING_LIMIT = 20_000
# Fewer instructions than this per request means the loop itself was not counted.
MIN_PER_REQUEST = 10_000
LOOP_NAMES = {
    ("middleware", False): "middleware + access line",
    ("middleware", True): "middleware + access line, with traceparent",
    ("wsgi", False): "WSGI handler, all middleware",
    ("wsgi", True): "WSGI handler, all middleware, with traceparent",
}
BENCH_SETTINGS = '''"""Benchmark-only settings (bench/bench_trace_ids.py); not in the template."""

from .production import *  # noqa: F403

ROOT_URLCONF = "_trace_ids_driver"
'''


@dataclass
class Revision:
    label: str
    project: Path
    venv: Path
    # (mode, traceparent) -> instructions per request, then the per-round timings.
    instructions: dict[tuple[str, bool], float] = field(default_factory=dict)
    cpu_us: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    wall_us: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    lines: str = ""


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def template_at(revision: str, workdir: Path) -> Path:
    """The template's files at *revision* (git archive), or this worktree for WORKTREE."""
    if revision == WORKTREE:
        return REPO_DIR
    source = workdir / f"template-{git('rev-parse', '--short', revision)}"
    source.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO_DIR), "archive", revision], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    return source


def render(revision: str, workdir: Path) -> Revision:
    from cookiecutter.main import cookiecutter

    label = revision if revision != WORKTREE else worktree_label()
    output = workdir / f"render-{len(list(workdir.glob('render-*')))}"
    cookiecutter(str(template_at(revision, workdir)), no_input=True, output_dir=str(output))
    project = output / SLUG
    (project / "config" / "settings" / "bench_trace.py").write_text(BENCH_SETTINGS)
    shutil.copy(DRIVER, project / DRIVER.name)
    return Revision(label, project, venv_for(project))


def worktree_label() -> str:
    dirty = git("status", "--porcelain", "--", *TEMPLATE_PATHS)
    return f"HEAD {git('rev-parse', '--short', 'HEAD')}{' + changes' if dirty else ''}"


def driver_env(revision: Revision, workdir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(revision.project),  # the render runs from its folder
        # Hash seeds change dict and set layouts, and with them instruction counts.
        "PYTHONHASHSEED": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings.bench_trace",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",  # never opened
        "REDIS_URL": "redis://127.0.0.1:6379/15",  # never contacted
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "ENVIRONMENT": "production",
    }


def driver_command(revision: Revision, count: int, warmup: int, result: Path) -> list[str]:
    python = str(revision.venv / "bin" / "python")
    return [python, DRIVER.name, str(count), str(warmup), str(result)]


def callgrind_all(revisions: list[Revision], args: argparse.Namespace, workdir: Path) -> None:
    """One valgrind per revision, all at once: instruction counts ignore the load."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    running = []
    for index, revision in enumerate(revisions):
        out = RESULTS_DIR / f"callgrind.{index}.out"
        for old in RESULTS_DIR.glob(f"callgrind.{index}.out*"):
            old.unlink()
        result = workdir / f"callgrind-{index}.json"
        log = workdir / f"callgrind-{index}.log"
        command = [
            "valgrind", "--tool=callgrind", "--collect-atstart=no",
            f"--toggle-collect={COLLECTED_FUNCTION}", f"--dump-after={COLLECTED_FUNCTION}",
            f"--callgrind-out-file={out}", f"--log-file={workdir / f'valgrind-{index}.txt'}",
            *driver_command(revision, args.count, args.warmup, result), "--callgrind",
        ]  # fmt: skip
        with open(log, "w") as stdout:
            process = subprocess.Popen(
                command, cwd=revision.project, env=driver_env(revision, workdir), stdout=stdout
            )
        running.append((revision, process, out, result, log))
    for revision, process, out, result, log in running:
        if process.wait(timeout=1800) != 0:
            raise SystemExit(
                f"{revision.label}: the driver under valgrind exited {process.returncode}"
                f" (see {log} and {workdir})."
            )
        loops = json.loads(result.read_text())["loops"]
        revision.instructions = per_request(revision.label, out, loops, args.count)
        revision.lines = check_lines(log, len(loops) * (args.count + args.warmup))


def per_request(
    label: str, out: Path, loops: list[dict], count: int
) -> dict[tuple[str, bool], float]:
    """Instructions per request of each loop, from the profile parts under *out*.

    Refuses figures that can't be right: a dump more or fewer than the loops wrapped
    (something else calls ffi_call), an empty loop that counts more than the wrapping,
    or a loop that counts next to nothing (collection never switched on).
    """
    dumps = len(list(out.parent.glob(f"{out.name}.*")))
    if dumps != len(loops) + 1:
        raise SystemExit(
            f"{label}: {dumps} callgrind dumps for {len(loops) + 1} wrapped loops:"
            " something else calls ffi_call, or it no longer wraps them."
        )
    parts = [collected(Path(f"{out}.{part}")) for part in range(1, len(loops) + 2)]
    if parts[0] > WRAPPING_LIMIT:
        raise SystemExit(
            f"{label}: a loop of no request collected {parts[0]:,} instructions"
            f" (limit {WRAPPING_LIMIT:,}): ffi_call no longer wraps the loop alone."
        )
    figures = {}
    for loop, instructions in zip(loops, parts[1:], strict=True):
        key = (loop["mode"], loop["traceparent"])
        if instructions / count < MIN_PER_REQUEST:
            raise SystemExit(
                f"{label}: {instructions / count:,.0f} instructions per request collected in the"
                f" loop '{LOOP_NAMES[key]}': callgrind did not count the loop."
            )
        figures[key] = (instructions - parts[0]) / count
    return figures


def collected(profile: Path) -> int:
    """The instructions a callgrind profile part counted (its `summary:` line)."""
    for line in profile.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"{profile}: no summary line (not a callgrind profile?)")


def check_lines(log: Path, expected: int) -> str:
    """Check the access lines were all written; say how many carry trace ids."""
    access = with_trace = continued = 0
    for line in log.read_text().splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("logger") != f"{SLUG}.monitoring.access":
            continue
        access += 1
        with_trace += "trace_id" in record
        continued += record.get("trace_id") == INCOMING_TRACE_ID
    if access != expected:
        raise SystemExit(f"{log}: {access} access lines, {expected} requests")
    return f"{access} / {with_trace} / {continued}"


def time_rounds(revisions: list[Revision], args: argparse.Namespace, workdir: Path) -> None:
    """Interleaved rounds: each revision once per round, the order rotating."""
    for round_number in range(args.rounds):
        shift = round_number % len(revisions)
        for revision in revisions[shift:] + revisions[:shift]:
            result = workdir / "timing.json"
            log = workdir / "timing.log"
            with open(log, "w") as stdout:
                subprocess.run(
                    driver_command(revision, args.count, args.warmup, result),
                    cwd=revision.project,
                    env=driver_env(revision, workdir),
                    stdout=stdout,
                    check=True,
                    timeout=600,
                )
            for loop in json.loads(result.read_text())["loops"]:
                key = (loop["mode"], loop["traceparent"])
                revision.cpu_us.setdefault(key, []).append(loop["cpu_s"] * 1e6 / args.count)
                revision.wall_us.setdefault(key, []).append(loop["wall_s"] * 1e6 / args.count)


def spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"


def report(revisions: list[Revision], args: argparse.Namespace) -> str:
    base, *others = revisions
    head = "| loop | " + " | ".join(f"instructions / request, {r.label}" for r in revisions)
    head += "".join(
        f" | {r.label} / {base.label}: instructions | CPU time | wall time" for r in others
    )
    columns = len(revisions) + 3 * len(others)
    rows = [head + " |", "| --- |" + " ---: |" * columns]
    for key, name in LOOP_NAMES.items():
        cells = [f"{r.instructions[key]:,.0f}" for r in revisions]
        for other in others:
            cpu = [b / o for b, o in zip(base.cpu_us[key], other.cpu_us[key], strict=True)]
            wall = [b / o for b, o in zip(base.wall_us[key], other.wall_us[key], strict=True)]
            cells += [
                f"**{other.instructions[key] / base.instructions[key]:.3f}**",
                spread([1 / ratio for ratio in cpu]),
                spread([1 / ratio for ratio in wall]),
            ]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    verdicts = []
    for other in others:
        worst = max(
            other.instructions[key] / base.instructions[key]
            for key in LOOP_NAMES
            if key[0] == "middleware"
        )
        verdict = "met" if worst <= BOUND else "**missed**"
        verdicts.append(f"{other.label}: {worst:.3f}, {verdict}")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = ", ".join(f"{r.label}: {r.lines}" for r in revisions)
    notes = [
        "",
        f"Run {when}: {args.count} measured requests per loop after {args.warmup} warm-up"
        f" ones; callgrind (valgrind {valgrind_version()}), Python {python_version(base)};"
        f" time: {args.rounds} interleaved rounds, {os.cpu_count()} CPUs shared with other"
        " jobs. Ratios are after / before (above 1: dearer).",
        f"Bound of issue 19 (access line path, after / before <= {BOUND}), worst middleware"
        f" loop: {'; '.join(verdicts)}.",
        f"Access lines written / with trace_id / continuing the incoming trace: {lines}.",
    ]
    return "\n".join(rows + notes)


def valgrind_version() -> str:
    output = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True)
    return output.stdout.strip().removeprefix("valgrind-")


def python_version(revision: Revision) -> str:
    python = str(revision.venv / "bin" / "python")
    command = [python, "-c", "import platform; print(platform.python_version())"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def write_results(path: Path, text: str) -> None:
    """Replace the results block (between its two markers) in *path*."""
    start_marker, end_marker = "<!-- bench:trace-ids:start -->", "<!-- bench:trace-ids:end -->"
    content = path.read_text() if path.exists() else f"{start_marker}\n{end_marker}\n"
    start, end = content.index(start_marker), content.index(end_marker)
    path.write_text(content[: start + len(start_marker)] + "\n" + text + "\n" + content[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="measured requests per loop")
    parser.add_argument("--warmup", type=int, default=200, help="requests before each loop")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--write", type=Path, help="update the results block of this file")
    args = parser.parse_args()
    if args.count < 1 or args.warmup < 0 or args.rounds < 1:
        raise SystemExit("--count and --rounds must be at least 1, --warmup at least 0.")
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is needed: apt-get install -y valgrind")

    workdir = Path(tempfile.mkdtemp(prefix="bench-trace-ids-"))
    revisions = [render(revision, workdir) for revision in (BEFORE, TRACE_COMMIT, WORKTREE)]
    callgrind_all(revisions, args, workdir)
    time_rounds(revisions, args, workdir)
    shutil.rmtree(workdir)  # kept when a step fails, for its logs
    text = report(revisions, args)
    print(text)
    if args.write:
        write_results(args.write, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
