"""A git repository of this template and a later commit in it, for the cruft tests.

test_cruft_update.py and test_cruft_link.py each make their own (xdist runs the two files
on two workers). Everything runs from local paths; git takes its identity from the
environment and reads no user or system config.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .conftest import REPO_DIR

CRUFT = Path(sys.executable).parent / "cruft"
SLUG_DIR = "{{cookiecutter.project_slug}}"
# What cookiecutter and cruft read of the template; the rest of the repo is its tooling.
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", "local_extensions.py", SLUG_DIR)
PACKAGE = "my_project"  # the default slug
CHECKS = f"{PACKAGE}/monitoring/health/checks.py"
HEALTH_DOC = "docs/health.md"
BASE_SETTINGS = "config/settings/base.py"


@dataclass(frozen=True)
class Edit:
    """One text change in a rendered file; `template_path` is where the template has it."""

    path: str
    old: str
    new: str

    @property
    def template_path(self) -> str:
        top, _, rest = self.path.partition("/")
        inner = f"{SLUG_DIR}/{rest}" if top == PACKAGE else self.path
        return f"{SLUG_DIR}/{inner}"


# The later template commit (B): a docstring in the health checks, a value in their doc,
# and a comment in the settings, a file users edit too.
TEMPLATE_UPDATE = (
    Edit(CHECKS, '"""The built-in checks. Each gets', '"""The checks built in. Each gets'),
    Edit(
        HEALTH_DOC, "`HEALTH_CHECK_TIMEOUT` (default 1 s)", "`HEALTH_CHECK_TIMEOUT` (default 1.0 s)"
    ),
    Edit(BASE_SETTINGS, "; workers check this often (s).", "; the workers check this often (s)."),
)


def replace_once(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative} should hold {old!r} once: update the test's edits"
    path.write_text(text.replace(old, new))


def apply_edits(root: Path, edits: tuple[Edit, ...], *, in_template: bool = False) -> None:
    for edit in edits:
        replace_once(root, edit.template_path if in_template else edit.path, edit.old, edit.new)


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def ok(*args: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = run(*args, cwd=cwd, env=env)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def commit_all(repo: Path, message: str, env: dict[str, str]) -> str:
    ok("git", "add", "-A", cwd=repo, env=env)
    ok("git", "commit", "-q", "-m", message, cwd=repo, env=env)
    return ok("git", "rev-parse", "HEAD", cwd=repo, env=env).strip()


def git_init(repo: Path, message: str, env: dict[str, str]) -> str:
    ok("git", "init", "-q", "-b", "main", cwd=repo, env=env)
    return commit_all(repo, message, env)


def git_status(repo: Path, env: dict[str, str]) -> list[str]:
    """`git status --porcelain` lines, ignored files included (a .rej would be: .env.*)."""
    out = ok(
        "git", "status", "--porcelain", "--ignored", "--untracked-files=all", cwd=repo, env=env
    )
    return [line for line in out.splitlines() if "__pycache__" not in line]


def isolated_env(root: Path) -> dict[str, str]:
    """No user config for git or cookiecutter; nothing above `root` is taken for a repo."""
    home = root / "home"
    home.mkdir()
    config = home / "cookiecutter.yaml"
    config.write_text(f'cookiecutters_dir: "{home}/templates/"\nreplay_dir: "{home}/replay/"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "COOKIECUTTER"))}
    return {
        **env,
        "HOME": str(home),
        "COOKIECUTTER_CONFIG": str(config),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(root),
        "GIT_AUTHOR_NAME": "Template Test",
        "GIT_AUTHOR_EMAIL": "template-test@example.com",
        "GIT_COMMITTER_NAME": "Template Test",
        "GIT_COMMITTER_EMAIL": "template-test@example.com",
    }


def template_repo(root: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A git repository of this checkout's template, as it is on disk: (folder, commit A)."""
    assert CRUFT.is_file(), f"{CRUFT} is missing: `make test` installs the dev extra, cruft too"
    template = root / "template"
    template.mkdir()
    for part in TEMPLATE_PARTS:
        source = REPO_DIR / part
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, template / part, ignore=ignore)
        else:
            shutil.copy2(source, template / part)
    return template, git_init(template, "A: the template as in this checkout", env)


def commit_template_update(template: Path, env: dict[str, str]) -> str:
    """Commit B on top of A; its hash."""
    apply_edits(template, TEMPLATE_UPDATE, in_template=True)
    return commit_all(template, "B: health checks docstring and doc", env)


def copy_project(source: Path, target: Path, *, with_git: bool = True) -> Path:
    ignore = None if with_git else shutil.ignore_patterns(".git")
    shutil.copytree(source, target, symlinks=True, ignore=ignore)
    return target


def assert_template_update_landed(project: Path) -> None:
    for edit in TEMPLATE_UPDATE:
        assert edit.new in (project / edit.path).read_text(), f"{edit.path} did not get B"
