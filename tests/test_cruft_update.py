"""Taking in template updates with cruft (the render's README, "Taking in template updates").

The template is a temporary git repository made from this checkout (commit A), and a
later commit B in it changes monitoring files (cruft_repo.py). A project made at A with
`cruft create` gets the user's own commit, and `cruft update` brings B in: cleanly, or
with the conflicts shown as cruft documents them (conflict markers in a git repository,
`.rej` files outside one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import DEFAULTS
from .cruft_repo import (
    BASE_SETTINGS,
    CHECKS,
    CRUFT,
    HEALTH_DOC,
    PACKAGE,
    TEMPLATE_UPDATE,
    Edit,
    apply_edits,
    assert_template_update_landed,
    commit_all,
    commit_template_update,
    copy_project,
    git_init,
    git_status,
    isolated_env,
    ok,
    run,
    template_repo,
)

pytestmark = pytest.mark.slow

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


def add_user_app(project: Path) -> None:
    """What `manage.py startapp shop` leaves, in short."""
    app = project / PACKAGE / "shop"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\n"
        f'class ShopConfig(AppConfig):\n    name = "{PACKAGE}.shop"\n'
    )


@dataclass(frozen=True)
class Setup:
    env: dict[str, str]
    template: Path
    commit_a: str
    commit_b: str
    created: Path  # `cruft create` at A, committed in its own git repository


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    root = tmp_path_factory.mktemp("cruft-update")
    env = isolated_env(root)
    template, commit_a = template_repo(root, env)
    (root / "created").mkdir()
    create = (CRUFT, "create", template, "--checkout", commit_a, "--no-input")
    ok(*create, cwd=root / "created", env=env)
    created = root / "created" / PACKAGE
    git_init(created, "Rendered with cruft create", env)
    commit_b = commit_template_update(template, env)
    return Setup(env, template, commit_a, commit_b, created)


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
