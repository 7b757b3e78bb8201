"""Settings boot as documented: zero services locally, fail fast in production."""

import pytest

from .conftest import clean_env, requires, run_manage

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "a-production-like-secret-key-that-is-long-enough-0123456789-abcdefghij",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ENVIRONMENT": "production",
}


def settings_values(env: dict[str, str], *expressions: str) -> list[str]:
    """Evaluate `s.<expression>` on the settings a fresh process loads with `env`."""
    values = ", ".join(f"s.{expression}" for expression in expressions)
    code = f"from django.conf import settings as s; print({values}, sep='\\n')"
    result = run_manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


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
