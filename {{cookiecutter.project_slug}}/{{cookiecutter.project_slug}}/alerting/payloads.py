"""What each Sentry webhook means, as an Alert (or None when it calls for none).

One parser per resource (the Sentry-Hook-Resource header): event_alert (an issue
alert rule fired), metric_alert (a metric alert changed state), issue (created or
resolved) and installation (the integration was installed or removed).

Sentry's payloads are trusted (signed) but their shape is not checked anywhere
else, so every lookup tolerates a missing key or a wrong type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .alerts import Alert, Severity

API_PROJECT = re.compile(r"/projects/[^/]+/([^/]+)/")


def _obj(value: Any, *path: str) -> dict[str, Any]:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value)


def _first_text(values: Any) -> str:
    return next((_text(v) for v in values if _text(v)), "") if isinstance(values, list) else ""


def _tag(event: dict[str, Any], key: str) -> str:
    """An event's tag value: Sentry lists tags as [key, value] pairs."""
    tags = event.get("tags")
    if not isinstance(tags, list):
        return ""
    pairs = (tag for tag in tags if isinstance(tag, list) and len(tag) == 2)
    return next((_text(value) for name, value in pairs if name == key), "")


def _event_environment(event: dict[str, Any]) -> str:
    return _text(event.get("environment")) or _tag(event, "environment")


def _event_alert(action: str, data: dict[str, Any], alert_id: str) -> Alert | None:
    """An issue alert rule fired. Severity follows the event level; tag severity=critical pages."""
    if action != "triggered":
        return None
    event = _obj(data, "event")
    level = _text(event.get("level")).lower()
    severity = {"fatal": Severity.CRITICAL, "info": Severity.INFO, "debug": Severity.INFO}.get(
        level, Severity.WARNING
    )
    if _tag(event, "severity").lower() == "critical":
        severity = Severity.CRITICAL
    rule = _text(data.get("triggered_rule")) or _text(_obj(data, "issue_alert").get("title"))
    title = _text(event.get("title")) or "Sentry issue alert"
    project = API_PROJECT.search(_text(event.get("url")))
    issue_id = _text(event.get("issue_id"))
    return Alert(
        id=alert_id,
        title=f"{rule}: {title}" if rule else title,
        severity=severity,
        url=_text(event.get("web_url")),
        project=project.group(1) if project else _text(event.get("project")),
        environment=_event_environment(event),
        fingerprint=f"sentry-issue-{issue_id}" if issue_id else "",
    )


def _metric_alert(action: str, data: dict[str, Any], alert_id: str) -> Alert | None:
    """A metric alert changed state; one incident keeps one fingerprint."""
    severity = {
        "critical": Severity.CRITICAL,
        "warning": Severity.WARNING,
        "resolved": Severity.RESOLVED,
    }.get(action)
    if severity is None:
        return None
    incident = _obj(data, "metric_alert")
    rule = _obj(incident, "alert_rule")
    incident_id = _text(incident.get("id")) or _text(rule.get("id"))
    return Alert(
        id=alert_id,
        title=_text(data.get("description_title")) or _text(rule.get("name")) or "Metric alert",
        severity=severity,
        url=_text(data.get("web_url")),
        project=_first_text(incident.get("projects")) or _first_text(rule.get("projects")),
        environment=_text(rule.get("environment")),
        fingerprint=f"sentry-metric-alert-{incident_id}" if incident_id else "",
    )


def _issue(action: str, data: dict[str, Any], alert_id: str) -> Alert | None:
    """A new issue (info), an issue back after it was resolved or archived (warning: a
    regression is what users most want to hear of), or one resolved in Sentry (closes
    its page)."""
    issue = _obj(data, "issue")
    reopened = {"regressed": "Regression", "escalating": "Escalating"}
    labels = {
        "created": ("New issue", Severity.INFO),
        "unresolved": (reopened.get(_text(issue.get("substatus")), "Unresolved"), Severity.WARNING),
        "resolved": ("Resolved", Severity.RESOLVED),
    }
    if action not in labels:
        return None
    label, severity = labels[action]
    issue_id = _text(issue.get("id"))
    return Alert(
        id=alert_id,
        title=f"{label}: {_text(issue.get('title')) or 'Sentry issue'}",
        severity=severity,
        url=_text(issue.get("web_url")) or _text(issue.get("permalink")),
        project=_text(_obj(issue, "project").get("slug")),
        fingerprint=f"sentry-issue-{issue_id}" if issue_id else "",
    )


def event_tag(payload: dict[str, Any], key: str) -> str:
    """The value of tag `key` on an event_alert's event ("" when absent)."""
    return _tag(_obj(payload, "data", "event"), key)


def issue_title(payload: dict[str, Any]) -> str:
    return _text(_obj(payload, "data", "issue").get("title"))


def issue_projects(payload: dict[str, Any]) -> set[str]:
    """The id and slug of an `issue` webhook's project (either may name it in settings)."""
    project = _obj(payload, "data", "issue", "project")
    return {value for value in (_text(project.get("id")), _text(project.get("slug"))) if value}


def _installation(action: str, data: dict[str, Any], alert_id: str) -> Alert | None:
    """The integration was installed (info) or removed (warning: Sentry alerts stop)."""
    labels = {
        "created": ("Sentry integration installed", Severity.INFO),
        "deleted": ("Sentry integration removed: Sentry alerts stop here", Severity.WARNING),
    }
    if action not in labels:
        return None
    title, severity = labels[action]
    installation = _obj(data, "installation")
    org = _text(_obj(installation, "organization").get("slug"))
    return Alert(
        id=alert_id,
        title=f"{title} ({org})" if org else title,
        severity=severity,
        fingerprint=f"sentry-installation-{_text(installation.get('uuid'))}",
    )


PARSERS: dict[str, Callable[[str, dict[str, Any], str], Alert | None]] = {
    "event_alert": _event_alert,
    "metric_alert": _metric_alert,
    "issue": _issue,
    "installation": _installation,
}


def parse_alert(resource: str, payload: dict[str, Any], alert_id: str) -> Alert | None:
    """The Alert a Sentry webhook stands for, or None when it calls for none."""
    parser = PARSERS.get(resource.strip())
    if parser is None:
        return None
    return parser(_text(payload.get("action")), _obj(payload, "data"), alert_id)


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 date (Sentry writes "...Z") or Unix seconds, as an aware datetime."""
    try:
        if isinstance(value, str) and value:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return None


def occurred_at(resource: str, payload: dict[str, Any]) -> datetime | None:
    """When the alerted event itself happened, where the payload says it for sure.

    event_alert: the event's own time; metric_alert: when the incident changed state.
    An issue's dates say when it was first or last seen, not when it was created or
    resolved, so issue and installation webhooks have none.
    """
    data = _obj(payload, "data")
    if resource == "event_alert":
        event = _obj(data, "event")
        return _moment(event.get("datetime")) or _moment(event.get("timestamp"))
    if resource == "metric_alert":
        incident = _obj(data, "metric_alert")
        keys = ("date_closed",) if payload.get("action") == "resolved" else ()
        for key in (*keys, "date_detected", "date_started"):
            if moment := _moment(incident.get(key)):
                return moment
    return None
