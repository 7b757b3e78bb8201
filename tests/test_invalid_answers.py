"""Invalid answers stop `cookiecutter` itself, with one sentence and no folder left.

The answers are kept in a replay file, so the user fixes the bad one there and
runs the command the hint gives, instead of answering every prompt again.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from .conftest import COOKIECUTTER, REPO_DIR, run_cookiecutter

ANSWERS_FILE = "cookiecutter-answers.json"
CASES = [
    ("project_slug", "my-project", "use lower-case letters"),
    ("project_slug", "2fast", "use lower-case letters"),
    ("project_slug", "django", "shadow the Python module"),
    ("project_slug", "celery", "shadow the Python module"),
    ("project_slug", "test", "shadow the Python module"),
    ("sentry_traces_sample_rate", "1.5", "a number from 0 to 1"),
    ("sentry_traces_sample_rate", "often", "a number from 0 to 1"),
    ("sentry_profiles_sample_rate", "-1", "a number from 0 to 1"),
    ("author_email", "not-an-email", "an address such as"),
    ("domain_name", "https://example.com", "a lower-case host name"),
    ("domain_name", "localhost", "a lower-case host name"),
    ("timezone", "Mars/Olympus", "an IANA time zone name"),
    ("use_sentry", "yes", "answer y or n"),
    ("project_name", 'Quote "me"', "without double quotes"),
]


def render(tmp_path: Path, key: str, value: str) -> subprocess.CompletedProcess:
    answers = [f"{key}={value}"]
    if key == "project_name":  # the slug derived from a bad name would be reported too
        answers.append("project_slug=valid_slug")
    return run_cookiecutter("--no-input", "-o", tmp_path, REPO_DIR, *answers, cwd=tmp_path)


@pytest.mark.parametrize(("key", "value", "allowed"), CASES, ids=[f"{k}={v}" for k, v, _ in CASES])
def test_invalid_answer_stops_generation(tmp_path, key, value, allowed):
    result = render(tmp_path, key, value)
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(error_lines) == 1, result.stderr
    assert f"{key} '{value}' is not allowed" in error_lines[0]
    assert allowed in error_lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert retry_command(result)
    left = [path.name for path in tmp_path.iterdir()]
    assert left == [ANSWERS_FILE], "a half-rendered folder was left behind"


def retry_command(result: subprocess.CompletedProcess) -> list[str]:
    """The command the hint under the error sentences gives."""
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("  cookiecutter ")]
    return shlex.split(line)


def test_one_bad_answer_is_fixed_in_the_saved_answers_and_the_hint_renders_them(tmp_path):
    answers = ["project_name=Shop Floor", "timezone=Europe/Paris", "sentry_traces_sample_rate=1.5"]
    first = run_cookiecutter("--no-input", "-o", "out", REPO_DIR, *answers, cwd=tmp_path)
    assert first.returncode != 0
    assert "Traceback" not in first.stdout + first.stderr
    assert f"Your answers are saved in out/{ANSWERS_FILE}" in first.stderr
    assert [path.name for path in (tmp_path / "out").iterdir()] == [ANSWERS_FILE]

    command = retry_command(first)
    answers_file = tmp_path / command[command.index("--replay-file") + 1]
    saved = json.loads(answers_file.read_text())
    assert saved["cookiecutter"]["sentry_traces_sample_rate"] == "1.5"
    saved["cookiecutter"]["sentry_traces_sample_rate"] = "0.25"
    answers_file.write_text(json.dumps(saved))

    # The command as printed, with this venv's cookiecutter first on PATH as for its user.
    path = f"{COOKIECUTTER.parent}{os.pathsep}{os.environ['PATH']}"
    retry = subprocess.run(
        command, cwd=tmp_path, env={**os.environ, "PATH": path},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert retry.returncode == 0, retry.stdout + retry.stderr
    project = tmp_path / "out" / "shop_floor"
    assert "cd out/shop_floor" in retry.stdout
    assert (project / "README.md").read_text().startswith("# Shop Floor\n")
    settings = (project / "config" / "settings" / "base.py").read_text()
    assert 'TIME_ZONE = "Europe/Paris"' in settings
    assert "0.25" in settings


def test_valid_answers_render(tmp_path):
    result = render(tmp_path, "description", "Orders, payments & co.")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["my_project"]
    assert "Project ready in my_project\n" in result.stdout
    assert "\n  cd my_project\n" in result.stdout
