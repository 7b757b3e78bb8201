"""Fail when the rendered project changes without a CHANGELOG.md entry in the same change set.

    python scripts/changelog_gate.py [BASE]     (default BASE: origin/main, else main)

The change set is what HEAD adds to its merge base with BASE (`git diff BASE...HEAD`).
If it touches a file under {{cookiecutter.project_slug}}/, CHANGELOG.md must change in it
too, unless one of its commits has a line `Changelog: none` (a typo, a test-only or
comment-only change: nothing for a rendered project to do). Exit 0 when satisfied or
when there is nothing to compare (HEAD is BASE), 1 otherwise, 2 when git can't answer.
"""

from __future__ import annotations

import re
import subprocess
import sys

PROJECT = "{{cookiecutter.project_slug}}/"
CHANGELOG = "CHANGELOG.md"
NO_ENTRY = re.compile(r"^Changelog:\s*none\s*$", re.IGNORECASE | re.MULTILINE)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def default_base() -> str:
    for name in ("origin/main", "main"):
        if (
            subprocess.run(
                ["git", "rev-parse", "-q", "--verify", name], capture_output=True
            ).returncode
            == 0
        ):
            return name
    raise SystemExit("changelog gate: no origin/main or main to compare with; pass BASE")


def verdict(changed: list[str], messages: str) -> str:
    """Why the change set fails, or "" when it passes (a pure function, for the tests)."""
    project = [path for path in changed if path.startswith(PROJECT)]
    if not project or CHANGELOG in changed or NO_ENTRY.search(messages):
        return ""
    shown = ", ".join(project[:5]) + (", ..." if len(project) > 5 else "")
    return (
        f"{len(project)} file(s) of the rendered project changed ({shown}) but {CHANGELOG} did "
        "not: add an entry saying what a rendered project must do, or put a line "
        "'Changelog: none' in a commit message when there is nothing to do."
    )


def main(argv: list[str]) -> int:
    try:
        base = argv[1] if len(argv) > 1 else default_base()
        changed = git("diff", "--name-only", f"{base}...HEAD").split()
        messages = git("log", "--format=%B", f"{base}..HEAD")
    except subprocess.CalledProcessError as exc:
        print(f"changelog gate: git failed: {exc.stderr.strip()}", file=sys.stderr)
        return 2
    failure = verdict(changed, messages)
    if failure:
        print(f"changelog gate: {failure}", file=sys.stderr)
        return 1
    print(f"changelog gate: ok ({len(changed)} file(s) changed since the merge base with {base})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
