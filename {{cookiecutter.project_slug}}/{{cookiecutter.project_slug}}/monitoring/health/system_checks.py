"""`manage.py check` validates the health check registry (settings.HEALTH_CHECKS) and
the observers every run is handed to (settings.HEALTH_CHECK_OBSERVERS)."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string


@register()
def check_health_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, path in settings.HEALTH_CHECKS.items():
        try:
            func = import_string(path)
        except ImportError as exc:
            errors.append(
                Error(
                    f"HEALTH_CHECKS[{name!r}] = {path!r} cannot be imported: {exc}",
                    id="health.E001",
                )
            )
            continue
        if not callable(func):
            errors.append(
                Error(f"HEALTH_CHECKS[{name!r}] = {path!r} is not callable.", id="health.E002")
            )
    for path in settings.HEALTH_CHECK_OBSERVERS:
        try:
            observer = import_string(path)
        except ImportError as exc:
            observer = exc
        if not callable(observer):
            errors.append(
                Error(
                    f"HEALTH_CHECK_OBSERVERS has {path!r}, which is not an importable callable.",
                    id="health.E004",
                )
            )
    for setting in ("HEALTH_READY_CHECKS", "HEALTH_WARNING_ONLY_CHECKS"):
        unknown = [
            name for name in getattr(settings, setting) if name not in settings.HEALTH_CHECKS
        ]
        if unknown:
            errors.append(
                Error(
                    f"{setting} names checks missing from HEALTH_CHECKS: {', '.join(unknown)}.",
                    id="health.E003",
                )
            )
    return errors
