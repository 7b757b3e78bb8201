"""Write what the image's build stage installs: pyproject's ranges, and the lock's pins.

The Dockerfile runs this with the base image's Python alone (standard library only: the
build stage has no project venv yet). It always writes requirements.txt, the runtime
dependencies' ranges from pyproject.toml. When the project has a requirements.lock
(`make lock`), it also writes requirements.image.lock: the lock's lines, hashes and markers
kept, for the runtime dependencies and everything they pull in, and nothing the dev extra
alone needs. The image then runs the versions CI tested, without the dev tools.

The lock holds one graph for both: `uv pip compile` notes under each pin what pulls it in
(`# via celery`, `# via my-project (pyproject.toml)`), and this walks those notes down from
the runtime dependencies. A note it cannot read fails the build here rather than leaving a
package out; the Dockerfile's `pip check` would catch one left out all the same.

Usage: python image_requirements.py [DIRECTORY]   (default: the current directory)
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCK = "requirements.lock"
RANGES = "requirements.txt"
IMAGE_LOCK = "requirements.image.lock"
NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


class LockError(Exception):
    """requirements.lock cannot give the image's pins; the message says what to do."""


@dataclass
class Pin:
    lines: list[str]
    parents: set[str] = field(default_factory=set)


def normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def leading_name(text: str, where: str) -> str:
    match = NAME.match(text.strip())
    if match is None:
        raise LockError(f"{where}: cannot read a package name in {text.strip()!r}")
    return normalized(match.group())


def read_lock(text: str) -> dict[str, Pin]:
    """Each pin of a `uv pip compile` lock: its lines, and the names that pull it in."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{LOCK} line {number}"
        stripped = line.strip()
        if not stripped:
            continue
        if not line[0].isspace():
            in_via = False
            if stripped.startswith("#"):
                continue
            if stripped.startswith("-"):
                raise LockError(f"{where}: option {stripped!r} is not a pin; run `make lock`")
            if "==" not in stripped:
                raise LockError(f"{where}: {stripped!r} is not pinned with ==; run `make lock`")
            current = pins.setdefault(leading_name(stripped, where), Pin(lines=[]))
            current.lines.append(line)
        elif current is None:
            raise LockError(f"{where}: an indented line before any pin")
        elif stripped.startswith("--hash="):
            current.lines.append(line)
        elif stripped.startswith("# via"):
            rest = stripped.removeprefix("# via").strip()
            in_via = not rest  # `# via` alone: the parents follow, one a line
            if rest:
                add_parent(current, rest, where)
        elif in_via and stripped.startswith("#"):
            add_parent(current, stripped.lstrip("#"), where)
    return pins


def add_parent(pin: Pin, note: str, where: str) -> None:
    # `-c constraints.txt`, `-r requirements.in`: a file that held the pin back or asked
    # for it, not a package that needs it.
    if not note.strip().startswith("-"):
        pin.parents.add(leading_name(note, where))


def runtime_names(pyproject: dict[str, Any]) -> tuple[str, list[str]]:
    """The project's own name and its runtime dependencies' lines."""
    project = pyproject.get("project", {})
    dependencies = project.get("dependencies", [])
    if "name" not in project or not isinstance(dependencies, list):
        raise LockError("pyproject.toml has no [project] name and dependencies list")
    return normalized(str(project["name"])), [str(line) for line in dependencies]


def image_pins(pins: dict[str, Pin], project: str, direct: list[str]) -> list[str]:
    """The runtime dependencies and all they pull in, as the lock's sorted names."""
    wanted = {leading_name(line, "pyproject.toml") for line in direct}
    if missing := sorted(wanted - pins.keys()):
        raise LockError(
            f"{LOCK} pins none of {', '.join(missing)}, which pyproject.toml needs: "
            "it is older than pyproject.toml; run `make lock` and commit it"
        )
    for name in wanted:
        if project not in pins[name].parents:
            raise LockError(
                f"{LOCK} does not say that {project} needs {name}: run `make lock` again"
            )
    found = set(wanted)
    while True:
        more = {name for name, pin in pins.items() if pin.parents & found} - found
        if not more:
            return sorted(found)
        found |= more


def write(directory: Path) -> str:
    pyproject = tomllib.loads((directory / "pyproject.toml").read_text())
    project, direct = runtime_names(pyproject)
    (directory / RANGES).write_text("".join(f"{line}\n" for line in direct))
    lock = directory / LOCK
    if not lock.is_file():
        return f"{RANGES}: pyproject.toml's ranges ({LOCK} absent)"
    pins = read_lock(lock.read_text())
    names = image_pins(pins, project, direct)
    lines = [line for name in names for line in pins[name].lines]
    (directory / IMAGE_LOCK).write_text("".join(f"{line}\n" for line in lines))
    return f"{IMAGE_LOCK}: {len(names)} of the {len(pins)} pins of {LOCK}"


def main(argv: list[str]) -> int:
    directory = Path(argv[1]) if len(argv) > 1 else Path.cwd()
    try:
        print(write(directory))
    except LockError as error:
        print(f"image_requirements: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
