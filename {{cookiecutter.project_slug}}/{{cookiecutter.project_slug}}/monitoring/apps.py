from django.apps import AppConfig
from django.conf import settings


class MonitoringConfig(AppConfig):
    """The project's monitoring, one module per concern (listed in README.md)."""

    name = "{{ cookiecutter.project_slug }}.monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from .celery_signals import connect_celery_signals
        from .health import system_checks  # noqa: F401 - registers the settings check
        from .redaction import mask_url_paths, redact, secret_setting_values

        connect_celery_signals()
        mask_url_paths(settings.MASKED_URL_PATHS)
        redact.set_secret_values(secret_setting_values())
