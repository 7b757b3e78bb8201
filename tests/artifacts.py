"""Readers of the render's deploy files, shared by the tests that check and run them."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path


def procfile_lines(project: Path) -> dict[str, str]:
    """Process type -> its shell line, as a Procfile platform runs it (`bash -c LINE`)."""
    lines = (project / "Procfile").read_text().splitlines()
    entries = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): command.strip() for name, command in entries}


def procfile(project: Path) -> dict[str, list[list[str]]]:
    """Process type -> the commands its line chains with `&&` (`exec` dropped); the last serves."""
    return {
        name: [shlex.split(step.strip().removeprefix("exec ")) for step in line.split("&&")]
        for name, line in procfile_lines(project).items()
    }


def dockerfile_instructions(project: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (project / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines())
        if parts
    ]


def exec_form(arguments: str) -> list[str]:
    return json.loads(arguments)


def dockerignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore's patterns keep this path out of the build context."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            return True
    return False


def dockerignore_patterns(project: Path) -> list[str]:
    lines = (project / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
