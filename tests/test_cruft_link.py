"""The other ways in to cruft: a plain cookiecutter render linked later, and `cruft create`
stopped by a bad answer (the render's README, "Taking in template updates").

The template is a temporary git repository made from this checkout (commit A), with a
later commit B (cruft_repo.py).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import COOKIECUTTER
from .cruft_repo import (
    CRUFT,
    PACKAGE,
    assert_template_update_landed,
    commit_all,
    commit_template_update,
    copy_project,
    git_init,
    isolated_env,
    ok,
    run,
    template_repo,
)

pytestmark = pytest.mark.slow

# The plain render answers one question otherwise; `cruft link` is told so.
PLAIN_ANSWERS = {"timezone": "Europe/Paris"}


@dataclass(frozen=True)
class Setup:
    env: dict[str, str]
    template: Path
    commit_a: str
    commit_b: str
    plain: Path  # `cookiecutter` at A with PLAIN_ANSWERS: no .cruft.json, no git


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    root = tmp_path_factory.mktemp("cruft-link")
    env = isolated_env(root)
    template, commit_a = template_repo(root, env)
    answers = [f"{key}={value}" for key, value in PLAIN_ANSWERS.items()]
    ok(COOKIECUTTER, "--no-input", "-o", "plain", template, *answers, cwd=root, env=env)
    commit_b = commit_template_update(template, env)
    return Setup(env, template, commit_a, commit_b, root / "plain" / PACKAGE)


def test_a_plain_cookiecutter_render_is_linked_then_updated(setup, tmp_path):
    env = setup.env
    project = copy_project(setup.plain, tmp_path / PACKAGE)
    assert not (project / ".cruft.json").exists()
    git_init(project, "Rendered with cookiecutter", env)

    # As the README says: the commit rendered from, and the answers that differ.
    ok(
        CRUFT, "link", setup.template, "--checkout", setup.commit_a, "-y",
        "--extra-context", json.dumps(PLAIN_ANSWERS), cwd=project, env=env,
    )  # fmt: skip
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == setup.commit_a
    assert state["context"]["cookiecutter"]["timezone"] == PLAIN_ANSWERS["timezone"]
    # Those answers give back the project as rendered: nothing differs (.env is skipped).
    same = run(CRUFT, "diff", "--exit-code", cwd=project, env=env)
    assert (same.returncode, same.stdout) == (0, ""), same.stdout + same.stderr
    commit_all(project, "Linked to the template with cruft", env)

    ok(CRUFT, "update", "-y", cwd=project, env=env)
    assert_template_update_landed(project)
    assert json.loads((project / ".cruft.json").read_text())["commit"] == setup.commit_b


def test_cruft_create_stops_on_a_bad_answer_and_its_hint_renders_once_fixed(setup, tmp_path):
    env = setup.env
    answers = {"project_slug": "django", **PLAIN_ANSWERS}
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
    assert state["context"]["cookiecutter"]["timezone"] == PLAIN_ANSWERS["timezone"]
