"""What Sentry has, compared with what the file asks for: create, update, unchanged, removed.

Ownership goes by name: everything the file manages is called "<prefix> <key>", and an
object whose name does not start with "<prefix> " is never changed or deleted. The one
exception is a cron monitor whose slug is one of our beat entries': the SDK's first
check-in creates it (named after the slug) before anyone ran `apply`, and we adopt it.

Only the fields the file sets are compared, so values Sentry adds on its side (ids,
dates, `name` labels inside conditions, a float where we sent an integer) are not changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..sentry_api import SentryClient
from .desired import (
    CRON_MONITOR,
    ISSUE_ALERT,
    KINDS,
    METRIC_ALERT,
    UPTIME_MONITOR,
    Desired,
    DesiredState,
)

CREATE, UPDATE, UNCHANGED, REMOVED = "create", "update", "unchanged", "owned-but-removed"


@dataclass(frozen=True)
class Change:
    action: str
    kind: str
    name: str
    remote_id: str | None = None  # what the detail URL takes (monitors: the slug)
    body: dict[str, Any] | None = None
    fields: tuple[str, ...] = ()  # for updates: the top-level fields that differ
    note: str = ""


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def of(self, *actions: str) -> list[Change]:
        return [change for change in self.changes if change.action in actions]

    @property
    def pending(self) -> bool:
        """Whether `apply --prune` would change anything."""
        return bool(self.of(CREATE, UPDATE, REMOVED))


@dataclass(frozen=True)
class Endpoints:
    """Where each kind lives in Sentry's API, for one organization and project."""

    org: str
    project: str

    def collection(self, kind: str) -> str:
        org, project = quote(self.org, safe=""), quote(self.project, safe="")
        return {
            ISSUE_ALERT: f"projects/{org}/{project}/rules/",
            METRIC_ALERT: f"organizations/{org}/alert-rules/",
            CRON_MONITOR: f"organizations/{org}/monitors/",
            UPTIME_MONITOR: f"projects/{org}/{project}/uptime/",
        }[kind]

    def listing(self, kind: str) -> str:
        if kind == UPTIME_MONITOR:  # listed per organization only
            return f"organizations/{quote(self.org, safe='')}/uptime/"
        return self.collection(kind)

    def detail(self, kind: str, remote_id: str) -> str:
        return f"{self.collection(kind)}{quote(remote_id, safe='')}/"


def _in_project(kind: str, project: str) -> Callable[[dict[str, Any]], bool]:
    if kind == METRIC_ALERT:
        return lambda item: project in (item.get("projects") or [])
    if kind == CRON_MONITOR:
        return lambda item: (item.get("project") or {}).get("slug") == project
    if kind == UPTIME_MONITOR:
        return lambda item: item.get("projectSlug") == project
    return lambda item: True  # listed per project already


def comparable(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """A listed object under the names of the fields we send."""
    if kind == CRON_MONITOR:
        return {**item, "project": (item.get("project") or {}).get("slug")}
    if kind == UPTIME_MONITOR:
        return {
            **item,
            "interval_seconds": item.get("intervalSeconds"),
            "timeout_ms": item.get("timeoutMs"),
        }
    return item


def list_remote(client: SentryClient, endpoints: Endpoints) -> dict[str, list[dict[str, Any]]]:
    remote = {}
    for kind in KINDS:
        belongs = _in_project(kind, endpoints.project)
        items = client.get_all(endpoints.listing(kind))
        remote[kind] = [item for item in items if isinstance(item, dict) and belongs(item)]
    return remote


def same(wanted: Any, actual: Any) -> bool:
    """Whether `actual` has everything `wanted` sets (dicts: only wanted's keys count)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            same(value, actual.get(key)) for key, value in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        if not isinstance(actual, list | tuple) or len(wanted) != len(actual):
            return False
        if all(not isinstance(item, dict | list) for item in wanted):
            return sorted(map(_scalar, wanted)) == sorted(map(_scalar, actual))
        return all(same(w, a) for w, a in zip(wanted, actual, strict=True))
    return _scalar(wanted) == _scalar(actual)


def _scalar(value: Any) -> str:
    # Sentry answers 60.0 for 60 and "123" for 123: compare numbers as numbers.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(float(value))
    if isinstance(value, str):
        try:
            return repr(float(value))
        except ValueError:
            return value
    return repr(value)


def make_plan(desired: DesiredState, remote: dict[str, list[dict[str, Any]]], prefix: str) -> Plan:
    plan = Plan(skipped=list(desired.skipped))
    owner_mark = f"{prefix} "
    for kind in KINDS:
        wanted = [item for item in desired.objects if item.kind == kind]
        listed = [comparable(kind, item) for item in remote.get(kind, [])]
        matched: set[int] = set()
        for item in wanted:
            found = _find(kind, item, listed, matched, owner_mark)
            if found is None:
                plan.changes.append(Change(CREATE, kind, item.name, body=item.body))
                continue
            index, note = found
            matched.add(index)
            actual = listed[index]
            remote_id = str(actual["slug"] if kind == CRON_MONITOR else actual["id"])
            differing = tuple(
                key for key, value in item.body.items() if not same(value, actual.get(key))
            )
            action = UPDATE if differing else UNCHANGED
            plan.changes.append(
                Change(action, kind, item.name, remote_id, item.body, differing, note)
            )
        for index, actual in enumerate(listed):
            name = str(actual.get("name", ""))
            if index not in matched and name.startswith(owner_mark):
                remote_id = str(actual["slug"] if kind == CRON_MONITOR else actual["id"])
                plan.changes.append(Change(REMOVED, kind, name, remote_id))
    return plan


def _find(
    kind: str, item: Desired, listed: list[dict[str, Any]], taken: set[int], owner_mark: str
) -> tuple[int, str] | None:
    for index, actual in enumerate(listed):
        if index in taken:
            continue
        if kind == CRON_MONITOR:
            if actual.get("slug") != item.key:
                continue
            owned = str(actual.get("name", "")).startswith(owner_mark)
            return index, "" if owned else "adopted: created by the SDK's check-ins"
        if actual.get("name") == item.name:
            return index, ""
    return None
