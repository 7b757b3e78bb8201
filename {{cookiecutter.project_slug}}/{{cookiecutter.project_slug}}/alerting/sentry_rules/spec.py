"""The rules file (deploy/sentry/alerts.yaml): read, checked field by field, as dataclasses.

A mistake stops everything before Sentry is called, with one line naming the file, the
line and the field: `deploy/sentry/alerts.yaml:12: issue_alerts.regression.frequency_minutes:
expected an integer, got 'often'`. The YAML is composed into nodes (not loaded straight
into dicts) so that every value keeps the line it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

# Sentry's own limits and choices, from its API documentation (see desired.py).
ISSUE_TRIGGERS = ("new_issue", "regression", "every_event", "event_count")
EVENT_COUNT_INTERVALS = ("1m", "5m", "15m", "1h", "1d", "1w", "30d")
NOTIFY = ("integration", "email")
LEVELS = ("fatal", "error", "warning", "info", "debug")
MATCH = ("all", "any", "none")
MEASURES = ("errors", "p95_duration", "failure_rate")
WINDOW_MINUTES = (1, 5, 10, 15, 30, 60, 120, 240, 1440)
UPTIME_INTERVALS = (60, 300, 600, 1200, 1800, 3600)
UPTIME_METHODS = ("GET", "HEAD")
NAME_LIMITS = {"issue_alerts": 64, "metric_alerts": 256, "uptime_monitors": 128}
KEY_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class SpecError(Exception):
    """A mistake in the rules file: `<file>:<line>: <field>: <what is wrong>`."""


@dataclass(frozen=True)
class EventFilter:
    level: str | None = None  # the event's level is at least this
    tag: str | None = None  # the event has this tag...
    equals: str | None = None  # ...with this value (any value when None)


@dataclass(frozen=True)
class IssueAlert:
    key: str
    when: str
    notify: str
    frequency_minutes: int
    events_more_than: int | None
    interval: str | None
    filters: tuple[EventFilter, ...]
    filter_match: str


@dataclass(frozen=True)
class MetricAlert:
    key: str
    measure: str
    window_minutes: int
    critical: float
    warning: float | None
    query: str


@dataclass(frozen=True)
class UptimeMonitor:
    key: str
    url: str
    interval_seconds: int
    timeout_ms: int
    method: str


@dataclass(frozen=True)
class Spec:
    path: str
    prefix: str
    environment: str | None
    issue_alerts: tuple[IssueAlert, ...]
    metric_alerts: tuple[MetricAlert, ...]
    cron_monitors: bool
    uptime_monitors: tuple[UptimeMonitor, ...]

    def name(self, key: str) -> str:
        """The name in Sentry of an object this file owns."""
        return f"{self.prefix} {key}"


class _Reader:
    """Walks the composed YAML, converting and checking; every error names line and field."""

    def __init__(self, path: str):
        self.path = path
        self._scalars = SafeConstructor()

    def fail(self, node: yaml.Node, field: str, problem: str) -> SpecError:
        return SpecError(f"{self.path}:{node.start_mark.line + 1}: {field}: {problem}")

    def mapping(
        self, node: yaml.Node, field: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, "expected a mapping of fields")
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self._scalars.construct_object(key_node)
            where = f"{field}.{key}" if field else str(key)
            if not isinstance(key, str) or (allowed and key not in allowed):
                raise self.fail(key_node, where, f"unknown field (allowed: {', '.join(allowed)})")
            if key in fields:
                raise self.fail(key_node, where, "given twice")
            fields[key] = value_node
        for key in required:
            if key not in fields:
                raise self.fail(node, f"{field}.{key}" if field else key, "missing")
        return fields

    def entries(self, node: yaml.Node, field: str) -> list[tuple[str, yaml.Node]]:
        """A mapping of user-chosen keys (rule names) to their settings."""
        if isinstance(node, yaml.ScalarNode) and self.scalar(node) is None:
            return []
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, "expected a mapping of names to settings")
        result: list[tuple[str, yaml.Node]] = []
        for key_node, value_node in node.value:
            key = self._scalars.construct_object(key_node)
            if not isinstance(key, str) or not key or not set(key) <= KEY_CHARACTERS:
                raise self.fail(
                    key_node, f"{field}.{key}", "names use lower-case letters, digits, - and _"
                )
            if key in dict(result):
                raise self.fail(key_node, f"{field}.{key}", "given twice")
            result.append((key, value_node))
        return result

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return node  # not a scalar: the typed readers below refuse it
        return self._scalars.construct_object(node)

    def text(self, node: yaml.Node, field: str, choices: tuple[str, ...] = ()) -> str:
        value = self.scalar(node)
        if not isinstance(value, str) or not value:
            raise self.fail(node, field, f"expected a text, got {_shown(value)}")
        if choices and value not in choices:
            raise self.fail(node, field, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def integer(
        self, node: yaml.Node, field: str, low: int, high: int, choices: tuple[int, ...] = ()
    ) -> int:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(node, field, f"expected an integer, got {_shown(value)}")
        if choices and value not in choices:
            raise self.fail(node, field, f"{value} is not one of {', '.join(map(str, choices))}")
        if not low <= value <= high:
            raise self.fail(node, field, f"{value} is outside {low} to {high}")
        return int(value)

    def number(self, node: yaml.Node, field: str) -> float:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(node, field, f"expected a number from 0 up, got {_shown(value)}")
        return float(value)

    def boolean(self, node: yaml.Node, field: str) -> bool:
        value = self.scalar(node)
        if not isinstance(value, bool):
            raise self.fail(node, field, f"expected true or false, got {_shown(value)}")
        return value


def _shown(value: Any) -> str:
    if isinstance(value, yaml.Node):
        return "a list" if isinstance(value, yaml.SequenceNode) else "a mapping"
    return "nothing" if value is None else repr(value)


def load_spec(path: Path) -> Spec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot be read ({error.strerror}).") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 0
        raise SpecError(f"{path}:{line}: not valid YAML: {error.problem}") from None
    if root is None:
        raise SpecError(f"{path}: the file is empty.")
    return parse_spec(root, str(path))


def parse_spec(root: yaml.Node, path: str) -> Spec:
    read = _Reader(path)
    top = read.mapping(
        root,
        "",
        (
            "version",
            "prefix",
            "environment",
            "issue_alerts",
            "metric_alerts",
            "cron_monitors",
            "uptime_monitors",
        ),
        required=("version", "prefix"),
    )
    read.integer(top["version"], "version", 1, 1)
    prefix = read.text(top["prefix"], "prefix")
    environment_node = top.get("environment")
    environment = None
    if environment_node is not None and read.scalar(environment_node) is not None:
        environment = read.text(environment_node, "environment")
    spec = Spec(
        path=path,
        prefix=prefix,
        environment=environment,
        issue_alerts=tuple(
            _issue_alert(read, key, node, f"issue_alerts.{key}")
            for key, node in read.entries(top["issue_alerts"], "issue_alerts")
        )
        if "issue_alerts" in top
        else (),
        metric_alerts=tuple(
            _metric_alert(read, key, node, f"metric_alerts.{key}")
            for key, node in read.entries(top["metric_alerts"], "metric_alerts")
        )
        if "metric_alerts" in top
        else (),
        cron_monitors=_cron_monitors(read, top.get("cron_monitors")),
        uptime_monitors=tuple(
            _uptime_monitor(read, key, node, f"uptime_monitors.{key}")
            for key, node in read.entries(top["uptime_monitors"], "uptime_monitors")
        )
        if "uptime_monitors" in top
        else (),
    )
    for section, limit in NAME_LIMITS.items():
        for key, node in read.entries(top[section], section) if section in top else ():
            if len(spec.name(key)) > limit:
                raise read.fail(
                    node, f"{section}.{key}", f"the name with its prefix is over {limit} characters"
                )
    return spec


def _issue_alert(read: _Reader, key: str, node: yaml.Node, field: str) -> IssueAlert:
    fields = read.mapping(
        node,
        field,
        (
            "when",
            "notify",
            "frequency_minutes",
            "events_more_than",
            "interval",
            "filters",
            "filter_match",
        ),
        required=("when", "notify", "frequency_minutes"),
    )
    when = read.text(fields["when"], f"{field}.when", ISSUE_TRIGGERS)
    events = interval = None
    if when == "event_count":
        for name in ("events_more_than", "interval"):
            if name not in fields:
                raise read.fail(node, f"{field}.{name}", "missing (needed by when: event_count)")
        events = read.integer(fields["events_more_than"], f"{field}.events_more_than", 1, 10**9)
        interval = read.text(fields["interval"], f"{field}.interval", EVENT_COUNT_INTERVALS)
    else:
        for name in ("events_more_than", "interval"):
            if name in fields:
                raise read.fail(fields[name], f"{field}.{name}", "only for when: event_count")
    filters: list[EventFilter] = []
    filters_node = fields.get("filters")
    if filters_node is not None:
        if not isinstance(filters_node, yaml.SequenceNode):
            raise read.fail(filters_node, f"{field}.filters", "expected a list of filters")
        for index, item in enumerate(filters_node.value):
            where = f"{field}.filters[{index}]"
            parts = read.mapping(item, where, ("level", "tag", "equals"))
            if ("level" in parts) == ("tag" in parts) or ("equals" in parts and "tag" not in parts):
                raise read.fail(item, where, "give either level, or tag (with equals or not)")
            filters.append(
                EventFilter(
                    level=read.text(parts["level"], f"{where}.level", LEVELS)
                    if "level" in parts
                    else None,
                    tag=read.text(parts["tag"], f"{where}.tag") if "tag" in parts else None,
                    equals=read.text(parts["equals"], f"{where}.equals")
                    if "equals" in parts
                    else None,
                )
            )
    return IssueAlert(
        key=key,
        when=when,
        notify=read.text(fields["notify"], f"{field}.notify", NOTIFY),
        frequency_minutes=read.integer(
            fields["frequency_minutes"], f"{field}.frequency_minutes", 5, 43200
        ),
        events_more_than=events,
        interval=interval,
        filters=tuple(filters),
        filter_match=read.text(fields["filter_match"], f"{field}.filter_match", MATCH)
        if "filter_match" in fields
        else "all",
    )


def _metric_alert(read: _Reader, key: str, node: yaml.Node, field: str) -> MetricAlert:
    fields = read.mapping(
        node,
        field,
        ("measure", "window_minutes", "critical", "warning", "query"),
        required=("measure", "window_minutes", "critical"),
    )
    critical = read.number(fields["critical"], f"{field}.critical")
    warning = read.number(fields["warning"], f"{field}.warning") if "warning" in fields else None
    if warning is not None and warning >= critical:
        raise read.fail(fields["warning"], f"{field}.warning", "must be below critical")
    query_node = fields.get("query")
    if query_node is None or read.scalar(query_node) in (None, ""):
        query = ""
    else:
        query = read.text(query_node, f"{field}.query")
    return MetricAlert(
        key=key,
        measure=read.text(fields["measure"], f"{field}.measure", MEASURES),
        window_minutes=read.integer(
            fields["window_minutes"], f"{field}.window_minutes", 1, 1440, WINDOW_MINUTES
        ),
        critical=critical,
        warning=warning,
        query=query,
    )


def _cron_monitors(read: _Reader, node: yaml.Node | None) -> bool:
    if node is None:
        return False
    fields = read.mapping(node, "cron_monitors", ("from_beat_schedule",), ("from_beat_schedule",))
    return read.boolean(fields["from_beat_schedule"], "cron_monitors.from_beat_schedule")


def _uptime_monitor(read: _Reader, key: str, node: yaml.Node, field: str) -> UptimeMonitor:
    fields = read.mapping(
        node,
        field,
        ("url", "interval_seconds", "timeout_ms", "method"),
        required=("url", "interval_seconds", "timeout_ms"),
    )
    url = read.text(fields["url"], f"{field}.url")
    if not url.startswith(("https://", "http://")) or len(url) > 255:
        raise read.fail(
            fields["url"], f"{field}.url", "expected an http(s) URL of 255 characters or less"
        )
    return UptimeMonitor(
        key=key,
        url=url,
        interval_seconds=read.integer(
            fields["interval_seconds"], f"{field}.interval_seconds", 60, 3600, UPTIME_INTERVALS
        ),
        timeout_ms=read.integer(fields["timeout_ms"], f"{field}.timeout_ms", 1000, 60000),
        method=read.text(fields["method"], f"{field}.method", UPTIME_METHODS)
        if "method" in fields
        else "GET",
    )
