"""Invalid answers stop `cookiecutter` itself, with one sentence and no folder left."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import REPO_DIR, run_cookiecutter

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
    assert list(tmp_path.iterdir()) == [], "a half-rendered folder was left behind"


def test_valid_answers_render(tmp_path):
    result = render(tmp_path, "description", "Orders, payments & co.")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["my_project"]
    assert "cd my_project" in result.stdout
