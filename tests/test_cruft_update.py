"""Taking in template updates with cruft (the render's README, "Taking in template updates").

The template is a temporary git repository made from this checkout (commit A); the test
then makes a later commit B in it that changes monitoring files. A project rendered at A
(`cruft create`, or plain `cookiecutter` then `cruft link`) gets the user's own commit,
and `cruft update` brings B in: cleanly, or with the conflicts shown as cruft documents
them (conflict markers in a git repository, `.rej` files outside one).

Everything runs from local paths; git takes its identity from the environment and reads
no user or system config.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import COOKIECUTTER, DEFAULTS, REPO_DIR

pytestmark = pytest.mark.slow

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
    """One text change in a rendered file; `template_path` is where commit B makes it."""

    path: str
    old: str
    new: str

    @property
    def template_path(self) -> str:
        top, _, rest = self.path.partition("/")
        inner = f"{SLUG_DIR}/{rest}" if top == PACKAGE else self.path
        return f"{SLUG_DIR}/{inner}"


# Commit B: a docstring in the health checks, a value in their doc, and a comment in the
# settings, a file the user edits too (other lines: git merges the two).
TEMPLATE_UPDATE = (
    Edit(CHECKS, '"""The built-in checks. Each gets', '"""The checks built in. Each gets'),
    Edit(
        HEALTH_DOC, "`HEALTH_CHECK_TIMEOUT` (default 1 s)", "`HEALTH_CHECK_TIMEOUT` (default 1.0 s)"
    ),
    Edit(BASE_SETTINGS, "; workers check this often (s).", "; the workers check this often (s)."),
)
# The user's own commit: a setting changed and a new app listed.
USER_SETTINGS = (
    Edit(BASE_SETTINGS, 'LANGUAGE_CODE = "en-us"', 'LANGUAGE_CODE = "fr-fr"'),
    Edit(
        BASE_SETTINGS,
        f'    "{PACKAGE}.orders",\n',
        f'    "{PACKAGE}.orders",\n    "{PACKAGE}.shop",\n',
    ),
)
# The same lines as B's docstring change, edited otherwise.
USER_CONFLICT = Edit(CHECKS, '"""The built-in checks. Each gets', '"""Our own checks. Each gets')


def replace_once(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative} should hold {old!r} once: update this test's edits"
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


def git_status(repo: Path, env: dict[str, str]) -> list[str]:
    """`git status --porcelain` lines, ignored files included (a .rej would be: .env.*)."""
    out = ok(
        "git", "status", "--porcelain", "--ignored", "--untracked-files=all", cwd=repo, env=env
    )
    return [line for line in out.splitlines() if "__pycache__" not in line]


def add_user_app(project: Path) -> None:
    """What `manage.py startapp shop` leaves, in short."""
    app = project / PACKAGE / "shop"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\n"
        f'class ShopConfig(AppConfig):\n    name = "{PACKAGE}.shop"\n'
    )


# The plain cookiecutter render answers one question otherwise; `cruft link` is told so.
PLAIN_ANSWERS = ("timezone=Europe/Paris",)


@dataclass(frozen=True)
class Setup:
    env: dict[str, str]
    template: Path
    commit_a: str
    commit_b: str
    created: Path  # `cruft create` at A, committed in its own git repository
    plain: Path  # `cookiecutter` at A with PLAIN_ANSWERS: no .cruft.json, no git


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


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    root = tmp_path_factory.mktemp("cruft")
    env = isolated_env(root)
    template = root / "template"
    template.mkdir()
    for part in TEMPLATE_PARTS:
        source = REPO_DIR / part
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, template / part, ignore=ignore)
        else:
            shutil.copy2(source, template / part)
    ok("git", "init", "-q", "-b", "main", cwd=template, env=env)
    commit_a = commit_all(template, "A: the template as in this checkout", env)

    (root / "created").mkdir()
    ok(
        CRUFT,
        "create",
        template,
        "--checkout",
        commit_a,
        "--no-input",
        cwd=root / "created",
        env=env,
    )
    created = root / "created" / PACKAGE
    ok("git", "init", "-q", "-b", "main", cwd=created, env=env)
    commit_all(created, "Rendered with cruft create", env)
    ok(COOKIECUTTER, "--no-input", "-o", "plain", template, *PLAIN_ANSWERS, cwd=root, env=env)

    apply_edits(template, TEMPLATE_UPDATE, in_template=True)
    commit_b = commit_all(template, "B: health checks docstring and doc", env)
    return Setup(env, template, commit_a, commit_b, created, root / "plain" / PACKAGE)


def copy_project(source: Path, target: Path, *, with_git: bool = True) -> Path:
    ignore = None if with_git else shutil.ignore_patterns(".git")
    shutil.copytree(source, target, symlinks=True, ignore=ignore)
    return target


def assert_template_update_landed(project: Path) -> None:
    for edit in TEMPLATE_UPDATE:
        assert edit.new in (project / edit.path).read_text(), f"{edit.path} did not get B"


def test_cruft_json_records_the_answers_and_no_secret(setup):
    state = json.loads((setup.created / ".cruft.json").read_text())
    assert state["template"] == str(setup.template)
    assert state["commit"] == setup.commit_a
    answers = state["context"]["cookiecutter"]
    public = {key for key in DEFAULTS if not key.startswith("_")}
    assert set(answers) == public | {"_extensions", "_template", "_commit"}
    assert answers["_extensions"] == DEFAULTS["_extensions"]
    env_file = (setup.created / ".env").read_text()
    secret = next(line for line in env_file.splitlines() if line.startswith("DJANGO_SECRET_KEY="))
    assert secret.partition("=")[2] not in (setup.created / ".cruft.json").read_text()
    # .env is never committed, so no update's diff can carry another render's secrets.
    ok("git", "check-ignore", "-q", ".env", cwd=setup.created, env=setup.env)
    assert "!! .env" in git_status(setup.created, setup.env)


def test_update_brings_the_template_commit_in_and_keeps_the_users(setup, tmp_path):
    env = setup.env
    project = copy_project(setup.created, tmp_path / PACKAGE)
    add_user_app(project)
    apply_edits(project, USER_SETTINGS)
    commit_all(project, "The shop app, in French", env)
    env_before = (project / ".env").read_bytes()

    stale = run(CRUFT, "check", cwd=project, env=env)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "FAILURE: Project's cruft is out of date!" in stale.stdout

    output = ok(CRUFT, "update", "-y", cwd=project, env=env)
    assert "conflict" not in output.lower() and ".rej" not in output, output
    # The hooks ran on two renders in temporary folders: no next steps for those.
    assert "Project ready" not in output
    assert_template_update_landed(project)
    settings = (project / BASE_SETTINGS).read_text()
    assert 'LANGUAGE_CODE = "fr-fr"' in settings
    assert f'    "{PACKAGE}.shop",\n' in settings
    assert (project / PACKAGE / "shop" / "apps.py").is_file()
    # Only B's files and the recorded commit changed; .env is this machine's, untouched.
    assert (project / ".env").read_bytes() == env_before
    changed = {".cruft.json", CHECKS, HEALTH_DOC, BASE_SETTINGS}
    assert sorted(git_status(project, env)) == sorted(
        [f"M  {path}" if path != ".cruft.json" else " M .cruft.json" for path in changed]
        + ["!! .env"]
    )
    assert json.loads((project / ".cruft.json").read_text())["commit"] == setup.commit_b
    assert "SUCCESS" in ok(CRUFT, "check", cwd=project, env=env)


def test_a_conflict_in_a_git_repository_is_left_as_conflict_markers(setup, tmp_path):
    env = setup.env
    project = copy_project(setup.created, tmp_path / PACKAGE)
    apply_edits(project, (USER_CONFLICT,))
    commit_all(project, "Our own docstring", env)

    # cruft merges with `git apply -3`; it exits 0 even when lines conflict.
    output = ok(CRUFT, "update", "-y", cwd=project, env=env)
    assert f"Applied patch to '{CHECKS}' with conflicts." in output
    marked = (project / CHECKS).read_text().splitlines()[:5]
    assert marked[0] == "<<<<<<< ours"
    assert marked[1].startswith(USER_CONFLICT.new)
    assert marked[2] == "======="
    assert marked[3].startswith(TEMPLATE_UPDATE[0].new)
    assert marked[4] == ">>>>>>> theirs"
    status = git_status(project, env)
    assert f"UU {CHECKS}" in status
    assert f"M  {HEALTH_DOC}" in status  # the rest of B landed
    assert not [line for line in status if line.endswith(".rej")]


def test_a_conflict_outside_git_is_left_in_rej_files(setup, tmp_path):
    env = setup.env
    project = copy_project(setup.created, tmp_path / PACKAGE, with_git=False)
    apply_edits(project, (USER_CONFLICT,))

    # Without git, cruft applies with `git apply --reject`: what does not apply goes to
    # FILE.rej beside FILE; it exits 0 all the same.
    output = ok(CRUFT, "update", "-y", cwd=project, env=env)
    assert "Project directory may have *.rej files" in output
    rejected = sorted(str(path.relative_to(project)) for path in project.rglob("*.rej"))
    assert rejected == [f"{CHECKS}.rej"]
    hunk = (project / f"{CHECKS}.rej").read_text()
    assert f"-{USER_CONFLICT.old}" in hunk
    assert f"+{TEMPLATE_UPDATE[0].new}" in hunk
    assert (project / CHECKS).read_text().startswith(USER_CONFLICT.new)  # the user's kept
    assert TEMPLATE_UPDATE[1].new in (project / HEALTH_DOC).read_text()


def test_a_plain_cookiecutter_render_is_linked_then_updated(setup, tmp_path):
    env = setup.env
    project = copy_project(setup.plain, tmp_path / PACKAGE)
    assert not (project / ".cruft.json").exists()
    ok("git", "init", "-q", "-b", "main", cwd=project, env=env)
    commit_all(project, "Rendered with cookiecutter", env)

    # As the README says: the commit rendered from, and the answers that differ.
    answers = json.dumps({"timezone": "Europe/Paris"})
    ok(
        CRUFT, "link", setup.template, "--checkout", setup.commit_a, "-y",
        "--extra-context", answers, cwd=project, env=env,
    )  # fmt: skip
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == setup.commit_a
    assert state["context"]["cookiecutter"]["timezone"] == "Europe/Paris"
    # Those answers give back the project as rendered: nothing differs (.env is skipped).
    same = run(CRUFT, "diff", "--exit-code", cwd=project, env=env)
    assert (same.returncode, same.stdout) == (0, ""), same.stdout + same.stderr
    commit_all(project, "Linked to the template with cruft", env)

    ok(CRUFT, "update", "-y", cwd=project, env=env)
    assert_template_update_landed(project)
    assert json.loads((project / ".cruft.json").read_text())["commit"] == setup.commit_b


def test_cruft_create_stops_on_a_bad_answer_and_its_hint_renders_once_fixed(setup, tmp_path):
    env = setup.env
    answers = {"project_slug": "django", "timezone": "Europe/Paris"}
    first = run(
        CRUFT, "create", setup.template, "--no-input", "--extra-context", json.dumps(answers),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert first.returncode != 0
    assert "ERROR: project_slug 'django' is not allowed: it would shadow" in first.stderr
    # The answers are kept beside the folder cruft would have made, which is not left.
    answers_file = tmp_path / "cruft-answers.json"
    assert list(tmp_path.iterdir()) == [answers_file]
    (line,) = [line for line in first.stderr.splitlines() if line.startswith("  cruft create ")]
    command = shlex.split(line)
    assert command[command.index("--extra-context-file") + 1] == str(answers_file)

    saved = json.loads(answers_file.read_text())
    answers_file.write_text(json.dumps({**saved, "project_slug": "shop"}))
    # The command as printed, with this venv's cruft first on PATH as for its user.
    path = f"{CRUFT.parent}{os.pathsep}{env['PATH']}"
    ok(*command, cwd=tmp_path, env={**env, "PATH": path})
    state = json.loads((tmp_path / "shop" / ".cruft.json").read_text())
    assert state["context"]["cookiecutter"]["timezone"] == "Europe/Paris"
