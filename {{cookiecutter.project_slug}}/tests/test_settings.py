"""Settings boot as documented: zero services locally, fail fast in production."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PRODUCTION_ENV, PROJECT_DIR, clean_env, requires, run_manage, settings_values


@pytest.fixture(scope="module")
def deployed_copy(tmp_path_factory) -> Path:
    """The project as a server has it: the same code, no .env (git and images leave it out)."""
    copy = tmp_path_factory.mktemp("deployed") / PROJECT_DIR.name
    ignore = shutil.ignore_patterns(".env", ".venv", "*.sqlite3", "__pycache__", ".pytest*")
    shutil.copytree(PROJECT_DIR, copy, ignore=ignore)
    return copy


# What each entry point loads when started as the deploy files start it.
ENTRY_POINTS = {
    "manage.py": "import manage; manage.use_default_settings()",
    "wsgi": "import config.wsgi",
    "asgi": "import config.asgi",
    "celery": "from config.celery_app import app; app.loader.import_default_modules()",
    "gunicorn.conf.py": "import runpy; runpy.run_path('gunicorn.conf.py')",
}
REPORT = "from django.conf import settings as s; print(s.SETTINGS_MODULE, s.DEBUG, s.ENVIRONMENT)"


def load_entry_point(folder: Path, entry_point: str, env: dict[str, str]):
    code = f"{ENTRY_POINTS[entry_point]}; {REPORT}"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_every_entry_point_defaults_to_production_without_a_dot_env(deployed_copy, entry_point):
    env = clean_env(**{k: v for k, v in PRODUCTION_ENV.items() if k != "ENVIRONMENT"})
    env.pop("DJANGO_SETTINGS_MODULE")
    env.pop("ENVIRONMENT", None)
    env["PYTHONPATH"] = str(deployed_copy)
    result = load_entry_point(deployed_copy, entry_point, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["config.settings.production", "False", "production"]


@pytest.fixture(scope="module")
def developer_copy(deployed_copy, tmp_path_factory) -> Path:
    """The project on a developer's machine: with the .env the generator writes."""
    copy = tmp_path_factory.mktemp("developer") / PROJECT_DIR.name
    shutil.copytree(deployed_copy, copy)
    (copy / ".env").write_text(
        "# written by the generator\nDJANGO_SETTINGS_MODULE=config.settings.local\n"
    )
    return copy


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_every_entry_point_uses_the_settings_dot_env_names(developer_copy, entry_point):
    env = clean_env(PYTHONPATH=str(developer_copy))
    env.pop("DJANGO_SETTINGS_MODULE")
    env.pop("ENVIRONMENT", None)
    result = load_entry_point(developer_copy, entry_point, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["config.settings.local", "True", "development"]


def test_a_server_without_variables_is_told_what_production_needs(deployed_copy):
    env = clean_env()
    env.pop("DJANGO_SETTINGS_MODULE")
    env.pop("DJANGO_SECRET_KEY", None)  # this process may have read it from .env
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=deployed_copy, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "need these environment variables: DJANGO_SECRET_KEY, DATABASE_URL" in result.stderr


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_local_settings_refuse_a_deployed_environment(environment):
    env = clean_env(DJANGO_SETTINGS_MODULE="config.settings.local", ENVIRONMENT=environment)
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert (
        f"config.settings.local is for a developer's machine, but ENVIRONMENT is '{environment}'"
    ) in result.stderr


def test_production_names_itself_production_unless_told():
    env = clean_env(**PRODUCTION_ENV)
    del env["ENVIRONMENT"]
    logged = "LOGGING['formatters']['stdout']['environment']"
    assert settings_values(env, "ENVIRONMENT", logged) == ["production", "production"]
    env["ENVIRONMENT"] = "staging"
    assert settings_values(env, "ENVIRONMENT")[0] == "staging"


@pytest.mark.parametrize(
    "key",
    [
        "change-me",
        "django-insecure-" + "x1y2z3" * 10,
        "short-but-varied-0123456789",
        "a" * 80,
    ],
)
def test_production_refuses_a_placeholder_or_weak_secret_key(key):
    result = run_manage("check", env=clean_env(**{**PRODUCTION_ENV, "DJANGO_SECRET_KEY": key}))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not fit for production" in result.stderr
    assert key not in result.stderr  # the sentence never repeats the key


def test_zero_service_mode_has_no_broker_and_says_so():
    assert settings_values(clean_env(), "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER") == [
        "memory://localhost/",
        "True",
    ]
    # An inline task neither connects anywhere nor warns about a missing host.
    code = (
        "from config.celery_app import app\n"
        "@app.task\n"
        "def ping(): return 'pong'\n"
        "print(ping.delay().get())"
    )
    result = run_manage("shell", "--no-imports", "-c", code, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "pong"
    assert "No hostname" not in result.stdout + result.stderr


CELERY_COMMANDS = {
    "worker": ["worker", "--pool=solo", "--without-mingle", "--without-gossip"],
    "beat": ["beat", "--schedule", "{tmp}/celerybeat-schedule"],
}


@pytest.mark.parametrize("name", CELERY_COMMANDS)
def test_worker_and_beat_without_a_broker_stop_with_one_sentence(name, tmp_path):
    arguments = [argument.format(tmp=tmp_path) for argument in CELERY_COMMANDS[name]]
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config.celery_app", *arguments],
        cwd=PROJECT_DIR, env=clean_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "No broker configured: set REDIS_URL (or CELERY_BROKER_URL)" in result.stderr
    assert "amqp" not in result.stdout + result.stderr


def test_local_settings_need_no_services():
    services = ("DATABASES['default']['ENGINE']", "CACHES['default']['BACKEND']")
    assert settings_values(clean_env(), *services, "CELERY_TASK_ALWAYS_EAGER") == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "True",
    ]


def test_local_settings_use_services_when_set():
    env = clean_env(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        REDIS_URL="redis://127.0.0.1:6379/4",
    )
    services = ("DATABASES['default']['ENGINE']", "CACHES['default']['BACKEND']")
    values = settings_values(env, *services, "CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL")
    assert values == [
        "django.db.backends.postgresql",
        "django.core.cache.backends.redis.RedisCache",
        "False",
        "redis://127.0.0.1:6379/4",
    ]


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without(missing):
    env = clean_env(**{k: v for k, v in PRODUCTION_ENV.items() if k != missing})
    env.pop(missing, None)
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert f"Production settings need these environment variables: {missing}." in result.stderr


def test_production_names_every_missing_variable():
    env = clean_env(DJANGO_SETTINGS_MODULE="config.settings.production")
    env.pop("DJANGO_SECRET_KEY", None)
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"CONN_MAX_AGE": "forever"}, "CONN_MAX_AGE must be a whole number >= 0, got 'forever'."),
        (
            {**PRODUCTION_ENV, "DJANGO_SECURE_HSTS_SECONDS": "-1"},
            "DJANGO_SECURE_HSTS_SECONDS must be a whole number >= 0, got '-1'.",
        ),
{%- if cookiecutter.use_prometheus == "y" %}
        (
            {"METRICS_WORKER_PORT": "70000"},
            "METRICS_WORKER_PORT must be a whole number from 0 to 65535, got '70000'.",
        ),
{%- endif %}
    ],
)
def test_whole_number_variables_are_checked_at_startup(variables, expected):
    result = run_manage("check", env=clean_env(**variables))
    assert result.returncode != 0
    assert expected in result.stderr


def test_unknown_environment_is_refused():
    result = run_manage("check", env=clean_env(ENVIRONMENT="prodution"))
    assert result.returncode != 0
    assert "ENVIRONMENT is 'prodution'" in result.stderr


@requires("DATABASE_URL")
def test_production_passes_deploy_checks():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=clean_env(**PRODUCTION_ENV)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_email_comes_from_one_url():
    env = clean_env(**PRODUCTION_ENV, EMAIL_URL="smtp+tls://mailer:pa%40ss@mail.example.com:587")
    email = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_USE_TLS")
    assert settings_values(env, *email) == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.com",
        "587",
        "mailer",
        "True",
    ]


def test_local_settings_print_emails_until_a_server_is_set():
    assert settings_values(clean_env(), "EMAIL_BACKEND") == [
        "django.core.mail.backends.console.EmailBackend"
    ]


def test_the_admin_is_served_where_django_admin_url_says():
    code = (
        "from django.urls import Resolver404, resolve\n"
        "print(resolve('/back-office-7f3a/').app_name)\n"
        "try:\n"
        "    resolve('/admin/')\n"
        "except Resolver404:\n"
        "    print('no /admin/')"
    )
    env = clean_env(DJANGO_ADMIN_URL="back-office-7f3a/")
    result = run_manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["admin", "no /admin/"]


@pytest.mark.parametrize("value", ["/admin/", "admin"])
def test_a_malformed_admin_url_is_refused(value):
    result = run_manage("check", env=clean_env(DJANGO_ADMIN_URL=value))
    assert result.returncode != 0
    assert f"DJANGO_ADMIN_URL is {value!r}" in result.stderr


@pytest.mark.parametrize(
    ("variables", "bind"),
    [
        ({}, "0.0.0.0:8000"),
        ({"PORT": "5123"}, "0.0.0.0:5123"),  # Procfile platforms give the port this way
        ({"PORT": "5123", "GUNICORN_BIND": "127.0.0.1:9000"}, "127.0.0.1:9000"),
    ],
)
def test_gunicorn_binds_the_platform_port(variables, bind):
    env = clean_env(**variables)
    for name in ("PORT", "GUNICORN_BIND"):
        if name not in variables:
            env.pop(name, None)
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['bind'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == bind


def test_hsts_starts_short_and_is_raised_by_the_environment():
    """A long max-age on the first deploy could lock visitors out of a broken https for a year."""
    assert settings_values(clean_env(**PRODUCTION_ENV), "SECURE_HSTS_SECONDS") == ["60"]
    raised = clean_env(**PRODUCTION_ENV, DJANGO_SECURE_HSTS_SECONDS="31536000")
    assert settings_values(raised, "SECURE_HSTS_SECONDS") == ["31536000"]
