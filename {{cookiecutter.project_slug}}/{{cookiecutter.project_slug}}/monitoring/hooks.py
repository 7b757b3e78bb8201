"""Subscribing to the project's hook lists (on_context_bound, on_stuck_task, ...).

The code that subscribes may run more than once in a process (connect_celery_signals
for one): a hook already in the list is not added again, so it runs once per event.
"""

from collections.abc import Callable
from typing import TypeVar

Event = TypeVar("Event")


def subscribe(hooks: list[Callable[[Event], None]], hook: Callable[[Event], None]) -> None:
    if hook not in hooks:
        hooks.append(hook)
