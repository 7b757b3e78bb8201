"""Fixtures for the template's own tests."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from . import services

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR / "scripts"))
COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"

DEFAULTS: dict = json.loads((REPO_DIR / "cookiecutter.json").read_text())
OPTIONS = (
    "use_sentry",
    "use_sentry_profiling",
    "sentry_send_default_pii",
    "use_prometheus",
    "use_kubernetes",
)
ALL_OFF = dict.fromkeys(OPTIONS, "n")


def option_matrix() -> list[dict[str, str]]:
    """Every distinct combination of the y/n options.

    With use_sentry=n the other Sentry answers are ignored, so those combinations
    collapse into one per remaining option set.
    """
    seen, combos = set(), []
    for values in itertools.product("yn", repeat=len(OPTIONS)):
        combo = dict(zip(OPTIONS, values, strict=True))
        if combo["use_sentry"] == "n":
            combo["use_sentry_profiling"] = combo["sentry_send_default_pii"] = "n"
        key = tuple(combo.values())
        if key not in seen:
            seen.add(key)
            combos.append(combo)
    return combos


def combo_id(combo: dict[str, str]) -> str:
    return "-".join(f"{name.removeprefix('use_')}={value}" for name, value in combo.items())


def run_cookiecutter(*args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The `cookiecutter` command, run from `cwd` as a user would; output captured as text."""
    return subprocess.run(
        [COOKIECUTTER, *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


# --- PostgreSQL and Redis (services.py) ------------------------------------------------


def pytest_configure(config):
    config.addinivalue_line("markers", "services: needs PostgreSQL and Redis (tests/services.py)")


# The renders' own suites take minutes each, the rest seconds: they start first, one per
# xdist worker, and the other files fill in around them on the other workers (`make test`
# keeps this order with --no-loadscope-reorder; xdist would otherwise start the files
# with most tests first, and these two last).
LONGEST_FIRST = ("tests/test_generated_all_off.py", "tests/test_generated_project.py")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by markers
def pytest_collection_modifyitems(items):
    for item in items:
        if services.needed_by([item.nodeid]):
            item.add_marker(pytest.mark.services)
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def stop_unless_services_answer(nodeids: list[str]) -> None:
    """Before any slow work: one sentence per service down, if the selected tests need them."""
    if services.needed_by(nodeids) and (sentences := services.not_answering()):
        pytest.exit(" ".join(sentences), returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collection_finish(session):
    # Under xdist the workers collect and the controller decides (the hook below).
    if not hasattr(session.config, "workerinput"):
        stop_unless_services_answer([item.nodeid for item in session.items])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """xdist's controller, once a worker has collected (before any test is sent to one)."""
    stop_unless_services_answer(ids)


@contextmanager
def own_services(request) -> Iterator[dict[str, str]]:
    label = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with services.postgres_database(label) as database_url, services.redis_db() as redis_url:
        yield {"DATABASE_URL": database_url, "REDIS_URL": redis_url}


@pytest.fixture
def service_env(request) -> Iterator[dict[str, str]]:
    """DATABASE_URL and REDIS_URL of this test's own, removed after it, pass or fail."""
    with own_services(request) as env:
        yield env


@pytest.fixture(scope="module")
def module_service_env(request) -> Iterator[dict[str, str]]:
    """The same, shared by the tests of one module (one stack for all of them)."""
    with own_services(request) as env:
        yield env


# --- renders ----------------------------------------------------------------------------


@pytest.fixture
def bake(cookies):
    """Render the template with these answers and check it succeeded."""

    def _bake(**answers: str) -> Path:
        result = cookies.bake(extra_context=answers)
        assert result.exit_code == 0, result.exception
        assert result.exception is None
        return Path(result.project_path)

    return _bake
