"""Unit tests of the hooks' helpers, imported straight from hooks/ (unrendered)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from .conftest import DEFAULTS, REPO_DIR, run_cookiecutter


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre = load_module(REPO_DIR / "hooks" / "pre_gen_project.py")
post = load_module(REPO_DIR / "hooks" / "post_gen_project.py")
extensions = load_module(REPO_DIR / "local_extensions.py")


def answers(**overrides: str) -> dict[str, str]:
    base = {k: v for k, v in DEFAULTS.items() if not k.startswith("_")}
    base["project_slug"] = "my_project"
    return {**base, **overrides}


def test_defaults_are_valid():
    assert pre.validate(answers()) == []


@pytest.mark.parametrize("slug", ["my_project", "shop2", "a"])
def test_good_slugs(slug):
    assert pre.check_slug(slug) is None


@pytest.mark.parametrize(
    "slug",
    ["my-project", "1shop", "My_Project", "", "django", "celery", "test", "tests", "config",
     "class", "logging", "json", "sentry_sdk", "my project", "_private", "é"],
)  # fmt: skip
def test_bad_slugs(slug):
    assert pre.check_slug(slug).startswith(f"project_slug '{slug}' is not allowed")


@pytest.mark.parametrize("rate", ["0", "1", "0.1", "1.0", "0.000001"])
def test_good_rates(rate):
    assert pre.check_rate("sentry_traces_sample_rate", rate) is None


@pytest.mark.parametrize("rate", ["1.5", "-0.1", "abc", "", "nan", "inf", "1e9", "0,1"])
def test_bad_rates(rate):
    message = pre.check_rate("sentry_traces_sample_rate", rate)
    assert message == (
        f"sentry_traces_sample_rate '{rate}' is not allowed: give a number from 0 to 1 (e.g. 0.1)."
    )


@pytest.mark.parametrize("email", ["you@example.com", "a.b+c@sub.example.org"])
def test_good_emails(email):
    assert pre.check_email(email) is None


@pytest.mark.parametrize("email", ["", "you", "you@", "@example.com", "a@b", "a b@c.com", "a@b..c"])
def test_bad_emails(email):
    assert pre.check_email(email).startswith(f"author_email '{email}' is not allowed")


@pytest.mark.parametrize("domain", ["example.com", "api.my-shop.co.uk", "x1.io"])
def test_good_domains(domain):
    assert pre.check_domain(domain) is None


@pytest.mark.parametrize(
    "domain",
    ["example", "https://example.com", "example.com/", "example.com:8000", "-a.com", "a-.com",
     "exa mple.com", "Example.com", "a..com", ""],
)  # fmt: skip
def test_bad_domains(domain):
    assert pre.check_domain(domain).startswith(f"domain_name '{domain}' is not allowed")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_good_timezones(zone):
    assert pre.check_timezone(zone) is None


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "utc+2"])
def test_bad_timezones(zone):
    assert pre.check_timezone(zone).startswith(f"timezone '{zone}' is not allowed")


@pytest.mark.parametrize("value", ["yes", "Y", "", "true", "1"])
def test_yes_no_is_strict(value):
    assert (
        pre.check_yes_no("use_sentry", value)
        == f"use_sentry '{value}' is not allowed: answer y or n."
    )


@pytest.mark.parametrize("text", ['Say "hi"', "back\\slash", "two\nlines", "{{ x }}", "   "])
def test_free_text_rejects_what_would_break_files(text):
    assert pre.check_text("project_name", text).startswith(f"project_name '{text}' is not allowed")


def test_sentry_rates_are_checked_only_when_they_matter():
    bad = {"sentry_traces_sample_rate": "2", "sentry_profiles_sample_rate": "2"}
    assert len(pre.validate(answers(**bad))) == 2
    assert len(pre.validate(answers(use_sentry_profiling="n", **bad))) == 1
    assert pre.validate(answers(use_sentry="n", **bad)) == []


def test_every_invalid_answer_is_reported():
    errors = pre.validate(answers(project_slug="django", author_email="nope", timezone="Nowhere"))
    assert [e.split(" ", 1)[0] for e in errors] == ["project_slug", "author_email", "timezone"]


def test_retry_hint_gives_a_command_to_paste_where_cookiecutter_ran():
    hint = pre.retry_hint("my out/cookiecutter-answers.json", "gh:org/template", "my out")
    assert hint.splitlines() == [
        "Your answers are saved in my out/cookiecutter-answers.json: correct the ones named above"
        " in that file, then run",
        "  cookiecutter --replay-file 'my out/cookiecutter-answers.json' gh:org/template"
        " -o 'my out'",
    ]
    assert pre.retry_hint("cookiecutter-answers.json", ".", ".").endswith(
        "\n  cookiecutter --replay-file cookiecutter-answers.json ."
    )


def test_under_cruft_the_hint_is_cruft_create_with_full_paths():
    hint = pre.cruft_retry_hint("/w/cruft-answers.json", "https://git.example/t.git", "/w")
    assert hint.splitlines()[1] == (
        "  cruft create --no-input --extra-context-file /w/cruft-answers.json"
        " https://git.example/t.git --output-dir /w"
    )


def test_cruft_answers_are_the_prompted_keys_flat(tmp_path):
    given = {**answers(), "_template": "t", "_commit": "abc", "_extensions": ["x"]}
    pre.save_cruft_answers(tmp_path / "answers.json", given)
    assert json.loads((tmp_path / "answers.json").read_text()) == answers()


def test_saved_answers_are_a_replay_file(tmp_path):
    pre.save_answers(tmp_path / "answers.json", answers(project_name="Café"))
    saved = json.loads((tmp_path / "answers.json").read_text())
    assert saved == {"cookiecutter": answers(project_name="Café")}


def make_tree(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_apply_options_removes_only_switched_off_paths(tmp_path):
    make_tree(tmp_path, "deploy/k8s/web.yaml", "deploy/monitoring/rules.yaml", "keep.py")
    post.OPTION_PATHS = {
        "use_kubernetes": ("deploy/k8s",),
        "use_prometheus": ("deploy/monitoring",),
    }
    post.apply_options(tmp_path, {"use_kubernetes": "n", "use_prometheus": "y"})
    assert not (tmp_path / "deploy/k8s").exists()
    assert (tmp_path / "deploy/monitoring/rules.yaml").exists()
    assert (tmp_path / "keep.py").exists()


def test_every_option_path_and_prunable_folder_is_in_the_template():
    # A fresh copy: other tests replace OPTION_PATHS.
    hook = load_module(REPO_DIR / "hooks" / "post_gen_project.py")
    template = REPO_DIR / "{{cookiecutter.project_slug}}"
    named = [*(path for paths in hook.OPTION_PATHS.values() for path in paths), *hook.PRUNABLE_DIRS]
    in_template = [path.replace("{{ cookiecutter.project_slug }}", template.name) for path in named]
    assert [path for path in in_template if not (template / path).exists()] == []


def test_prune_removes_folders_left_with_only_init(tmp_path):
    make_tree(tmp_path, "app/management/__init__.py", "app/management/commands/__init__.py")
    make_tree(tmp_path, "other/__init__.py", "other/real.py")
    post.prune_empty_dirs(tmp_path, ("app/management/commands", "app/management", "other", "gone"))
    assert not (tmp_path / "app/management").exists()
    assert (tmp_path / "other/real.py").exists()


def test_write_env_file_fills_the_secrets_and_keeps_an_existing_env(tmp_path):
    (tmp_path / ".env.example").write_text(
        "# comment\nDJANGO_SECRET_KEY=\nDJANGO_ADMIN_URL=\nENVIRONMENT=development\n"
    )
    values = {"DJANGO_SECRET_KEY": "s3cret", "DJANGO_ADMIN_URL": "admin-x/"}
    env = post.write_env_file(tmp_path, values)
    assert env.read_text() == (
        "# comment\nDJANGO_SECRET_KEY=s3cret\nDJANGO_ADMIN_URL=admin-x/\nENVIRONMENT=development\n"
    )
    assert env.stat().st_mode & 0o077 == 0
    env.write_text("mine")
    post.write_env_file(tmp_path, {"DJANGO_SECRET_KEY": "other"})
    assert env.read_text() == "mine"


def test_fresh_env_secrets_are_random_and_fit_for_production():
    first, second = post.fresh_env_secrets(), post.fresh_env_secrets()
    assert first["DJANGO_SECRET_KEY"] != second["DJANGO_SECRET_KEY"]
    assert len(first["DJANGO_SECRET_KEY"]) >= 50
    assert re.fullmatch(r"admin-[0-9a-f]{12}/", first["DJANGO_ADMIN_URL"])
    assert first["DJANGO_ADMIN_URL"] != second["DJANGO_ADMIN_URL"]


def test_next_steps_names_the_folder_as_given():
    message = post.next_steps("out/shop")
    assert "Project ready in out/shop\n" in message
    assert "\n  cd out/shop\n" in message
    assert "cd '/tmp/my projects/shop'" in post.next_steps("/tmp/my projects/shop")


def test_next_steps_say_env_is_for_this_machine_only():
    message = " ".join(post.next_steps("shop").split())
    assert "before deploying" not in message
    assert ".env holds this machine's settings only" in message
    assert "production never reads it" in message
    assert "from the environment (see docs/deploy.md)" in message


@pytest.mark.parametrize(
    ("path", "shown"),
    [("/work/me", "."), ("/work/me/out/shop", "out/shop"), ("/work/me/../you", "/work/you"),
     ("/work/meow", "/work/meow"), ("/", "/")],
)  # fmt: skip
def test_paths_are_shown_from_the_folder_cookiecutter_ran_in(path, shown):
    assert extensions.shown_path(path, Path("/work/me")) == shown


def test_no_folder_known_stays_unknown():
    # cruft renders without _output_dir; the hooks then print no folder (test_cruft_update.py).
    assert extensions.shown_path("", Path("/work/me")) == ""


def test_the_command_names_the_project_folder_from_where_it_ran(tmp_path):
    result = run_cookiecutter("--no-input", "-o", "out/../elsewhere", REPO_DIR, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Project ready in elsewhere/my_project\n" in result.stdout
    assert "\n  cd elsewhere/my_project\n" in result.stdout
    assert (tmp_path / "elsewhere" / "my_project" / "manage.py").is_file()


def test_a_project_outside_the_folder_it_ran_from_is_named_by_its_absolute_path(tmp_path):
    (tmp_path / "here").mkdir()
    result = run_cookiecutter("--no-input", "-o", "../there", REPO_DIR, cwd=tmp_path / "here")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"\n  cd {tmp_path / 'there' / 'my_project'}\n" in result.stdout
