"""scripts/changelog_gate.py on a throwaway git repository: each way a change set passes, fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GATE = Path(__file__).resolve().parent.parent / "scripts" / "changelog_gate.py"
PROJECT_FILE = "{{cookiecutter.project_slug}}/config/settings/base.py"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def commit(repo: Path, message: str, **files: str) -> None:
    for name, text in files.items():
        path = repo / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / PROJECT_FILE).parent.mkdir(parents=True)
    (tmp_path / PROJECT_FILE).write_text("DEBUG = False\n")
    commit(tmp_path, "base", **{"CHANGELOG.md": "# Changelog\n", "README.md": "x\n"})
    git(tmp_path, "checkout", "-q", "-b", "feature")
    return tmp_path


def gate(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(GATE)], cwd=repo, capture_output=True, text=True, check=False
    )


def test_nothing_to_compare_passes(repo):
    assert gate(repo).returncode == 0


def test_a_project_change_without_an_entry_fails_and_says_what_to_do(repo):
    (repo / PROJECT_FILE).write_text("DEBUG = True\n")
    commit(repo, "flip a setting")
    result = gate(repo)
    assert result.returncode == 1
    assert PROJECT_FILE in result.stderr
    assert "CHANGELOG.md" in result.stderr and "Changelog: none" in result.stderr


def test_an_entry_in_the_same_change_set_passes(repo):
    (repo / PROJECT_FILE).write_text("DEBUG = True\n")
    commit(repo, "flip a setting")
    commit(repo, "say so", **{"CHANGELOG.md": "# Changelog\n- DEBUG: set it yourself\n"})
    assert gate(repo).returncode == 0


def test_a_commit_saying_none_is_needed_passes(repo):
    (repo / PROJECT_FILE).write_text("DEBUG = False  # comment\n")
    commit(repo, "a comment\n\nChangelog: none")
    assert gate(repo).returncode == 0


def test_changes_outside_the_project_need_no_entry(repo):
    commit(repo, "docs", **{"README.md": "y\n"})
    assert gate(repo).returncode == 0
