from django.apps import AppConfig


class SentryConfig(AppConfig):
    """Sentry, installed with the project's use_sentry answer (INSTALLED_APPS)."""

    name = "{{ cookiecutter.project_slug }}.monitoring.sentry"
    label = "monitoring_sentry"
    verbose_name = "Sentry"

    def ready(self) -> None:
        from .startup import init_sentry

        # Once per process, after settings load and before any request or task runs.
        init_sentry()
