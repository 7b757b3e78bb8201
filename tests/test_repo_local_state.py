"""The template's commands keep what they install and remember inside the repo (README).

uv's and pip's caches and cookiecutter's replay files would go to $HOME by default;
the Makefile's recipes run with variables that point them into .cache/. Each test
points HOME at an empty folder and checks it stays empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import venvs
import yaml

from .conftest import REPO_DIR, run_cookiecutter

CACHE_DIR = REPO_DIR / ".cache"
MAKE_EXPORTS = ("UV_CACHE_DIR", "PIP_CACHE_DIR", "COOKIECUTTER_CONFIG")
# What the caller's environment must not lend the make run: the variables under test,
# where tools default to (XDG_*) and an outer make's state.
NOT_INHERITED = (*MAKE_EXPORTS, "XDG_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def make_env(home: Path) -> dict[str, str]:
    """The environment the Makefile's recipes run in (its files made first), HOME at `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    # --eval is read before the Makefile: the prerequisite is expanded once it has been.
    show = ["--eval", ".SECONDEXPANSION:", "--eval", "show-env: $$(COOKIECUTTER_CONFIG) ; @env -0"]
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", *show, "show-env"],
        cwd=REPO_DIR, env={**env, "HOME": str(home)},
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if item)


def empty_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_make_points_every_cache_into_the_repo(tmp_path):
    env = make_env(empty_home(tmp_path))
    outside = {name: env.get(name) for name in MAKE_EXPORTS}
    outside = {k: v for k, v in outside.items() if not (v and Path(v).is_relative_to(CACHE_DIR))}
    assert outside == {}


def test_a_render_with_the_make_environment_writes_nothing_in_home(tmp_path):
    home = empty_home(tmp_path)
    env = make_env(home)
    result = run_cookiecutter("--no-input", "-o", tmp_path / "out", REPO_DIR, cwd=tmp_path, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(home.rglob("*")) == []
    replay_dir = Path(yaml.safe_load(Path(env["COOKIECUTTER_CONFIG"]).read_text())["replay_dir"])
    assert replay_dir.is_relative_to(CACHE_DIR)
    assert (replay_dir / f"{REPO_DIR.name}.json").is_file()


def test_a_venv_made_as_scripts_venvs_makes_them_writes_nothing_in_home(tmp_path):
    home = empty_home(tmp_path)
    env = venvs.uv_env({k: v for k, v in make_env(home).items() if k != "UV_CACHE_DIR"})
    assert env["UV_CACHE_DIR"] == make_env(home)["UV_CACHE_DIR"]  # outside make: the same cache
    create = [venvs.UV, "venv", "-q", "--python", sys.executable, tmp_path / "venv"]
    subprocess.run(create, env=env, check=True, timeout=60)
    assert (tmp_path / "venv" / "bin" / "python").exists()
    assert list(home.rglob("*")) == []


def test_uv_env_keeps_a_cache_the_caller_chose():
    assert venvs.uv_env({"UV_CACHE_DIR": "/elsewhere"})["UV_CACHE_DIR"] == "/elsewhere"
