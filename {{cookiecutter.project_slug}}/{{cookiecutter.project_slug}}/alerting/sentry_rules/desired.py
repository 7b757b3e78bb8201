"""The rules file and the beat schedule, turned into the request bodies of Sentry's API.

Shapes follow Sentry's API reference (the serializers its OpenAPI document is built from,
getsentry/sentry): issue alert rules (src/sentry/api/endpoints/project_rules.py,
ProjectRulesPostSerializer), metric alert rules (src/sentry/incidents/endpoints/
organization_alert_rule_index.py, OrganizationAlertRuleIndexPostSerializer), cron monitors
(src/sentry/monitors/validators.py, MonitorValidator) and uptime monitors
(src/sentry/uptime/endpoints/validators.py, UptimeMonitorValidator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ...monitoring.sentry.beat_monitors import beat_entries, check_in_config, unsupported_reason
from ..sentry_api import SentryApiError, SentryClient
from .spec import EventFilter, IssueAlert, MetricAlert, Spec, UptimeMonitor

ISSUE_ALERT, METRIC_ALERT, CRON_MONITOR, UPTIME_MONITOR = (
    "issue alert",
    "metric alert",
    "cron monitor",
    "uptime monitor",
)
KINDS = (ISSUE_ALERT, METRIC_ALERT, CRON_MONITOR, UPTIME_MONITOR)

# every_event is missing from the API reference's list of conditions; it is Sentry's "a new
# event is captured" (src/sentry/rules/conditions/every_event.py), which its own API tests post.
CONDITIONS = {
    "new_issue": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition",
    "regression": "sentry.rules.conditions.regression_event.RegressionEventCondition",
    "every_event": "sentry.rules.conditions.every_event.EveryEventCondition",
    "event_count": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
}
LEVEL_FILTER = "sentry.rules.filters.level.LevelFilter"
TAG_FILTER = "sentry.rules.filters.tagged_event.TaggedEventFilter"
LEVEL_NUMBERS = {"fatal": "50", "error": "40", "warning": "30", "info": "20", "debug": "10"}
SENTRY_APP_ACTION = "sentry.rules.actions.notify_event_sentry_app.NotifyEventSentryAppAction"
EMAIL_ACTION = "sentry.mail.actions.NotifyEmailAction"
# Metric alert rule types, as Sentry's API reference lists them ("Metric Alert Rule Types";
# event types only where it names them: errors).
MEASURES = {
    "errors": {
        "dataset": "events",
        "queryType": 0,
        "aggregate": "count()",
        "eventTypes": ["error", "default"],
    },
    "p95_duration": {
        "dataset": "generic_metrics",
        "queryType": 1,
        "aggregate": "p95(transaction.duration)",
    },
    "failure_rate": {
        "dataset": "transactions",
        "queryType": 1,
        "aggregate": "failure_rate()",
    },
}
ABOVE = 0  # thresholdType: alert when the value goes above the thresholds


@dataclass(frozen=True)
class Integration:
    """Our webhook receiver as Sentry knows it (docs/alerting.md, "Connect Sentry")."""

    name: str
    app_id: int  # metric alert trigger actions: sentryAppId
    installation_uuid: str  # issue alert actions: sentryAppInstallationUuid


@dataclass(frozen=True)
class Desired:
    kind: str
    name: str  # what ownership and matching go by (monitors: their slug is `match`)
    body: dict[str, Any]
    match: str = ""  # cron monitors are matched by slug, the rest by name

    @property
    def key(self) -> str:
        return self.match or self.name


@dataclass
class DesiredState:
    objects: list[Desired] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)


def find_integration(client: SentryClient, name: str) -> Integration:
    """The installation uuid and app id of the internal integration called `name`.

    Sentry lists both in the actions a metric alert may use (GET
    /organizations/{org}/alert-rules/available-actions/, scope alerts:read).
    """
    org = quote(client.org, safe="")
    actions = client.request("GET", f"organizations/{org}/alert-rules/available-actions/")
    apps = [
        action
        for action in actions or []
        if isinstance(action, dict) and action.get("type") == "sentry_app"
    ]
    for action in apps:
        if action.get("sentryAppName") == name:
            return Integration(
                name, int(action["sentryAppId"]), str(action["sentryAppInstallationUuid"])
            )
    known = ", ".join(sorted(str(action.get("sentryAppName")) for action in apps)) or "none"
    raise SentryApiError(
        f"No alert-rule integration called {name!r} in {client.org} (found: {known}):"
        " set SENTRY_ALERT_INTEGRATION to the name of the internal integration that posts"
        " to /webhooks/sentry/, with Alert Rule Action turned on."
    )


def issue_alert_body(
    spec: Spec, rule: IssueAlert, integration: Integration | None
) -> dict[str, Any]:
    condition: dict[str, Any] = {"id": CONDITIONS[rule.when]}
    if rule.when == "event_count":
        condition |= {"value": rule.events_more_than, "interval": rule.interval}
    if rule.notify == "integration":
        if integration is None:
            raise ValueError("notify: integration needs the integration (find_integration)")
        action = {
            "id": SENTRY_APP_ACTION,
            "sentryAppInstallationUuid": integration.installation_uuid,
        }
    else:  # Sentry's own e-mail: the issue's owners, or all active members when it has none
        action = {
            "id": EMAIL_ACTION,
            "targetType": "IssueOwners",
            "fallthroughType": "ActiveMembers",
        }
    return {
        "name": spec.name(rule.key),
        "actionMatch": "all",
        "filterMatch": rule.filter_match,
        "conditions": [condition],
        "filters": [_filter(item) for item in rule.filters],
        "actions": [action],
        "frequency": rule.frequency_minutes,
        "environment": spec.environment,
    }


def _filter(item: EventFilter) -> dict[str, Any]:
    if item.level is not None:
        return {"id": LEVEL_FILTER, "match": "gte", "level": LEVEL_NUMBERS[item.level]}
    if item.equals is None:
        return {"id": TAG_FILTER, "key": item.tag, "match": "is"}
    return {"id": TAG_FILTER, "key": item.tag, "match": "eq", "value": item.equals}


def metric_alert_body(
    spec: Spec, rule: MetricAlert, project: str, integration: Integration
) -> dict[str, Any]:
    action = {
        "type": "sentry_app",
        "targetType": "sentry_app",
        "targetIdentifier": integration.app_id,
        "sentryAppId": integration.app_id,
    }
    triggers = [{"label": "critical", "alertThreshold": rule.critical, "actions": [action]}]
    if rule.warning is not None:
        triggers.append({"label": "warning", "alertThreshold": rule.warning, "actions": [action]})
    return {
        "name": spec.name(rule.key),
        **MEASURES[rule.measure],
        "query": rule.query,
        "timeWindow": rule.window_minutes,
        "thresholdType": ABOVE,
        "projects": [project],
        "environment": spec.environment,
        "triggers": triggers,
    }


def uptime_body(spec: Spec, monitor: UptimeMonitor) -> dict[str, Any]:
    return {
        "name": spec.name(monitor.key),
        "url": monitor.url,
        "interval_seconds": monitor.interval_seconds,
        "timeout_ms": monitor.timeout_ms,
        "method": monitor.method,
        "environment": spec.environment,
    }


def cron_monitors(
    spec: Spec, project: str, beat_schedule: Mapping[str, Mapping[str, Any]], celery_app: Any
) -> DesiredState:
    """One monitor per beat entry Crons can represent, with the schedule the SDK sends."""
    state = DesiredState()
    for entry in beat_entries(beat_schedule):
        reason = unsupported_reason(entry)
        if reason:
            state.skipped.append((f"{CRON_MONITOR} for beat entry {entry.name!r}", reason))
            continue
        body: dict[str, Any] = {
            "project": project,
            "name": spec.name(entry.slug),
            "slug": entry.slug,
            "config": check_in_config(entry, celery_app),
        }
        state.objects.append(Desired(CRON_MONITOR, body["name"], body, match=entry.slug))
    return state


def build_desired(
    spec: Spec,
    project: str,
    beat_schedule: Mapping[str, Mapping[str, Any]],
    celery_app: Any,
    integration: Integration | None,
) -> DesiredState:
    """Everything the file asks for, in the order plan prints it."""
    state = DesiredState()
    for rule in spec.issue_alerts:
        body = issue_alert_body(spec, rule, integration)
        state.objects.append(Desired(ISSUE_ALERT, body["name"], body))
    for metric_rule in spec.metric_alerts:
        if integration is None:
            raise ValueError("metric alerts notify the integration (find_integration)")
        body = metric_alert_body(spec, metric_rule, project, integration)
        state.objects.append(Desired(METRIC_ALERT, body["name"], body))
    if spec.cron_monitors:
        crons = cron_monitors(spec, project, beat_schedule, celery_app)
        state.objects += crons.objects
        state.skipped += crons.skipped
    for monitor in spec.uptime_monitors:
        body = uptime_body(spec, monitor)
        state.objects.append(Desired(UPTIME_MONITOR, body["name"], body))
    return state


def needs_integration(spec: Spec) -> bool:
    return bool(spec.metric_alerts) or any(r.notify == "integration" for r in spec.issue_alerts)
