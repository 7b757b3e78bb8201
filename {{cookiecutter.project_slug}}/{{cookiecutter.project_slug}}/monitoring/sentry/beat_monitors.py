"""Which beat entries Sentry Crons can watch, decided in one place.

Sentry Crons counts in whole minutes: an entry every 15 s (the alert outbox's sweeper)
cannot be a monitor. The SDK's Celery integration is told to leave such entries out
(`exclude_beat_tasks`, options.py) and `manage.py sentry_alerts` skips them with the
same reason, so neither announces a monitor the other does not know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery.schedules import crontab, maybe_schedule, schedule
from django.utils.text import slugify

from ._sdk_internals import beat_monitor_config

# Sentry slugifies the slug of every check-in (lower case; letters, digits, - and _)
# and keeps 50 characters (Monitor.slug).
MONITOR_SLUG_LENGTH = 50


@dataclass(frozen=True)
class BeatEntry:
    name: str  # the CELERY_BEAT_SCHEDULE key: the SDK's monitor slug
    schedule: Any  # a celery schedule (crontab, or schedule for intervals)

    @property
    def slug(self) -> str:
        return slugify(self.name)[:MONITOR_SLUG_LENGTH].strip("-")


def beat_entries(beat_schedule: Mapping[str, Mapping[str, Any]]) -> list[BeatEntry]:
    """The entries as beat itself reads them (a number of seconds becomes an interval)."""
    return [
        BeatEntry(name, maybe_schedule(entry["schedule"])) for name, entry in beat_schedule.items()
    ]


def unsupported_reason(entry: BeatEntry) -> str | None:
    """Why Sentry Crons cannot watch this entry, or None when it can."""
    if isinstance(entry.schedule, crontab):
        return None
    if isinstance(entry.schedule, schedule):
        seconds = entry.schedule.seconds
        if seconds < 60:
            return f"runs every {seconds:g} s; Sentry Crons has no interval under one minute"
        if seconds % 60:
            return f"runs every {seconds:g} s; Sentry Crons counts whole minutes"
        return None
    return f"a {type(entry.schedule).__name__} schedule, which Sentry Crons cannot represent"


def check_in_config(entry: BeatEntry, celery_app: Any) -> dict[str, Any]:
    """The monitor config the SDK's check-ins carry, in the API's form (for entries it can).

    `{"schedule_type": "crontab", "schedule": "0 3 * * *", "timezone": "UTC"}`, or an
    interval schedule as `[5, "minute"]`, as Sentry's monitor API takes them.
    """
    config = beat_monitor_config(entry.schedule, celery_app, entry.name)
    schedule = config["schedule"]
    return {
        "schedule_type": schedule["type"],
        "schedule": schedule["value"]
        if schedule["type"] == "crontab"
        else [schedule["value"], schedule["unit"]],
        "timezone": config["timezone"],
    }


def sdk_excluded_entries(beat_schedule: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`exclude_beat_tasks` patterns: exactly the entries Crons cannot watch.

    The SDK matches each pattern with re.search and a `$` appended; `^` makes it whole.
    """
    return [
        f"^{re.escape(entry.name)}"
        for entry in beat_entries(beat_schedule)
        if unsupported_reason(entry)
    ]
