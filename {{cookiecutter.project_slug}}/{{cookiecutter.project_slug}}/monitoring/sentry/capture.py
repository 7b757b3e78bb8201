"""Report to Sentry from your own code, with tags, context and the user's id.

    try:
        charge(order)
    except PaymentError as error:
        capture_exception(error, tags={"feature": "payment"}, context={"order": {"id": 7}})

Each call works on a scope of its own (sentry_sdk.new_scope), so tags and context
never leak into later events. Without SENTRY_DSN these calls do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import sentry_sdk

Level = Literal["fatal", "error", "warning", "info", "debug"]


def capture_exception(
    error: BaseException | None = None,
    *,
    tags: Mapping[str, str | int] | None = None,
    context: Mapping[str, Mapping[str, Any]] | None = None,
    user_id: str | int | None = None,
) -> str | None:
    """Send `error` (default: the exception being handled); returns the event id."""
    with sentry_sdk.new_scope() as scope:
        _decorate(scope, tags, context, user_id)
        return scope.capture_exception(error)


def capture_message(
    message: str,
    level: Level = "info",
    *,
    tags: Mapping[str, str | int] | None = None,
    context: Mapping[str, Mapping[str, Any]] | None = None,
    user_id: str | int | None = None,
) -> str | None:
    """Send a message event; returns the event id."""
    with sentry_sdk.new_scope() as scope:
        _decorate(scope, tags, context, user_id)
        return scope.capture_message(message, level=level)


def add_breadcrumb(message: str, *, category: str, level: Level = "info", **data: Any) -> None:
    """Record a step that the next event of this request or task will show."""
    sentry_sdk.add_breadcrumb(message=message, category=category, level=level, data=data)


def _decorate(
    scope: sentry_sdk.Scope,
    tags: Mapping[str, str | int] | None,
    context: Mapping[str, Mapping[str, Any]] | None,
    user_id: str | int | None,
) -> None:
    for key, value in (tags or {}).items():
        scope.set_tag(key, value)
    for name, values in (context or {}).items():
        scope.set_context(name, dict(values))
    if user_id is not None:
        # The id only: e-mail and IP stay out unless PII is allowed (options.py, filters.py).
        scope.set_user({"id": str(user_id)})
