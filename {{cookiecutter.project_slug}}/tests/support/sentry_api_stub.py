"""A stand-in for Sentry's web API on 127.0.0.1, for `manage.py sentry_alerts`.

It keeps issue alert rules, metric alert rules, cron monitors and uptime monitors in
memory, checks every request body against the shapes Sentry documents and answers 400
with Sentry's (Django REST framework's) error body, `{"field": ["message"]}`, when one is
wrong, so a body Sentry would refuse fails the tests. Answers have the documented
response shapes (ids as strings, floats where Sentry stores floats, camelCase where it
answers so) and lists are paginated with Sentry's `Link` header and cursors.

Shapes, from getsentry/sentry (the serializers its OpenAPI document is generated from):
- issue alert rules: src/sentry/api/endpoints/project_rules.py (ProjectRulesPostSerializer,
  the condition/filter/action ids and fields listed in its help texts);
  answers: src/sentry/api/serializers/models/rule.py (RuleSerializer)
- metric alert rules: src/sentry/incidents/endpoints/organization_alert_rule_index.py
  (OrganizationAlertRuleIndexPostSerializer); answers: AlertRuleSerializer
- available actions: src/sentry/incidents/endpoints/
  organization_alert_rule_available_action_index.py (sentryAppId, sentryAppInstallationUuid)
- cron monitors: src/sentry/monitors/validators.py (MonitorValidator, ConfigValidator);
  answers: src/sentry/monitors/serializers.py (MonitorSerializer)
- uptime monitors: src/sentry/uptime/endpoints/validators.py (UptimeMonitorValidator);
  answers: src/sentry/uptime/endpoints/serializers.py
- scopes: alerts:read / alerts:write for alert rules (ProjectAlertRulePermission,
  OrganizationAlertRulePermission), org:read for monitors (OrganizationMonitorPermission)
- pagination: src/sentry/api/paginator.py and base.py (Link header, "<id>:<offset>:<prev>")
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ALL_SCOPES = frozenset({"org:read", "project:read", "alerts:read", "alerts:write"})
CONDITIONS = {
    "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition": "A new issue is created",
    "sentry.rules.conditions.regression_event.RegressionEventCondition": (
        "The issue changes state from resolved to unresolved"
    ),
    "sentry.rules.conditions.every_event.EveryEventCondition": "The event occurs",
    "sentry.rules.conditions.event_frequency.EventFrequencyCondition": (
        "The issue is seen more than {value} times in {interval}"
    ),
}
FREQUENCY_INTERVALS = {"1m", "5m", "15m", "1h", "1d", "1w", "30d"}
FILTERS = {
    "sentry.rules.filters.level.LevelFilter": "The event's level is {match} {level}",
    "sentry.rules.filters.tagged_event.TaggedEventFilter": "The event's tags match {key}",
}
TAG_MATCHES = {"eq", "ne", "sw", "ew", "co", "nc", "is", "ns"}
LEVELS = {"50", "40", "30", "20", "10", "0"}
ACTIONS = {
    "sentry.rules.actions.notify_event_sentry_app.NotifyEventSentryAppAction",
    "sentry.mail.actions.NotifyEmailAction",
}
MATCHES = {"all", "any", "none"}
TIME_WINDOWS = {1, 5, 10, 15, 30, 60, 120, 240, 1440}
# The datasets of the rule types the rules file offers (Sentry knows a few more).
DATASETS = {"events", "transactions", "generic_metrics"}
TRIGGER_ACTION_TYPES = {
    "email", "slack", "msteams", "pagerduty", "sentry_app", "sentry_notification", "opsgenie",
}  # fmt: skip
TARGET_TYPES = {"specific", "user", "team", "sentry_app"}
INTERVAL_UNITS = {"year", "month", "week", "day", "hour", "minute"}
UPTIME_INTERVALS = {60, 300, 600, 1200, 1800, 3600}
UPTIME_METHODS = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"}
SLUG = re.compile(r"^[a-z0-9_-]+$")


class Invalid(Exception):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.body = {field_name: [message]}


def _require(data: dict, name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in data:
        raise Invalid(name, "This field is required.")
    value = data[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise Invalid(name, "Incorrect type.")
    if not isinstance(value, kind):
        raise Invalid(name, f"Incorrect type. Expected {kind}.")
    return value


def _choice(data: dict, name: str, choices: set, required: bool = True) -> Any:
    if name not in data:
        if required:
            raise Invalid(name, "This field is required.")
        return None
    if data[name] not in choices:
        raise Invalid(name, f'"{data[name]}" is not a valid choice.')
    return data[name]


def _optional_text(data: dict, name: str) -> None:
    if data.get(name) is not None and not isinstance(data[name], str):
        raise Invalid(name, "Not a valid string.")


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str


@dataclass
class Fault:
    """A canned answer for the next request(s): `times` of them, or forever when None."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = field(default_factory=lambda: {"detail": "Internal Error"})
    times: int | None = 1


class SentryApiStub:
    def __init__(
        self,
        token: str,
        org: str = "acme",
        project: str = "shop",
        *,
        page_size: int = 2,
        integration: str = "Our receiver",
    ):
        self.token, self.org, self.project, self.page_size = token, org, project, page_size
        self.scopes = set(ALL_SCOPES)
        self.app_id = 4242
        self.installation_uuid = str(uuid.uuid4())
        self.integration = integration
        self.issue_rules: dict[str, dict] = {}
        self.metric_rules: dict[str, dict] = {}
        self.monitors: dict[str, dict] = {}  # by slug
        self.uptime: dict[str, dict] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._ids = iter(range(1000, 10**6))
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.method != "GET"]

    def next_id(self) -> str:
        return str(next(self._ids))

    # --- seeding what "someone else" made in Sentry -------------------------------------
    def add_issue_rule(self, name: str, **fields: Any) -> str:
        body = {
            "name": name,
            "actionMatch": "all",
            "conditions": [{"id": next(iter(CONDITIONS))}],
            "actions": [{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners",
                         "fallthroughType": "ActiveMembers"}],
            "frequency": 30,
            **fields,
        }  # fmt: skip
        self._validate_issue_rule(body)
        rule_id = self.next_id()
        self.issue_rules[rule_id] = self._issue_rule_answer(rule_id, body)
        return rule_id

    # --- dispatch ----------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict, Any]:
        org, project = self.org, self.project
        routes: list[tuple[str, str, Any]] = [
            ("GET", f"/api/0/organizations/{org}/alert-rules/available-actions/", self._available),
            ("GET", f"/api/0/projects/{org}/{project}/rules/", self._list_of(self.issue_rules)),
            ("POST", f"/api/0/projects/{org}/{project}/rules/", self._create_issue_rule),
            ("GET", f"/api/0/organizations/{org}/alert-rules/", self._list_of(self.metric_rules)),
            ("POST", f"/api/0/organizations/{org}/alert-rules/", self._create_metric_rule),
            ("GET", f"/api/0/organizations/{org}/monitors/", self._list_of(self.monitors)),
            ("POST", f"/api/0/organizations/{org}/monitors/", self._create_monitor),
            ("GET", f"/api/0/organizations/{org}/uptime/", self._list_of(self.uptime)),
            ("POST", f"/api/0/projects/{org}/{project}/uptime/", self._create_uptime),
        ]
        for route_method, route_path, view in routes:
            if path == route_path and method == route_method:
                self._check_scope(method, path)
                return view(query, body)
        projects, orgs = f"/api/0/projects/{org}/{project}", f"/api/0/organizations/{org}"
        details = [
            (f"{projects}/rules/", self.issue_rules, self._update_issue_rule),
            (f"{orgs}/alert-rules/", self.metric_rules, self._update_metric_rule),
            (f"{orgs}/monitors/", self.monitors, self._update_monitor),
            (f"{projects}/uptime/", self.uptime, self._update_uptime),
        ]
        for prefix, store, update in details:
            match = re.fullmatch(re.escape(prefix) + r"([^/]+)/", path)
            if match and match.group(1) in store and method in ("GET", "PUT", "DELETE"):
                self._check_scope(method, path)
                key = match.group(1)
                if method == "GET":
                    return 200, {}, store[key]
                if method == "DELETE":
                    del store[key]
                    # 202 for rules and monitors (deleted in the background), 204 otherwise
                    accepted = store is self.issue_rules or store is self.monitors
                    return 202 if accepted else 204, {}, None
                return update(key, body)
        return 404, {}, {"detail": "The requested resource does not exist"}

    def _check_scope(self, method: str, path: str) -> None:
        if "/monitors/" in path:
            needed = "org:read"
        elif method == "GET":
            needed = "alerts:read"
        else:
            needed = "alerts:write"
        if needed not in self.scopes:
            raise PermissionError(needed)

    # --- lists -------------------------------------------------------------------------
    def _list_of(self, store: dict[str, dict]):
        def view(query: dict[str, str], _body: Any) -> tuple[int, dict, Any]:
            items = list(store.values())
            offset = int(query.get("cursor", "0:0:0").split(":")[1])
            page = items[offset : offset + self.page_size]
            more = offset + self.page_size < len(items)
            return 200, {"Link": self._link(query, offset, more)}, page

        return view

    def _link(self, query: dict[str, str], offset: int, more: bool) -> str:
        base = f"{self.url}{self._current_path}"

        def one(cursor: str, rel: str, results: bool) -> str:
            rest = "".join(f"&{k}={v}" for k, v in query.items() if k != "cursor")
            flags = f'rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'
            return f"<{base}?cursor={cursor}{rest}>; {flags}"

        previous = f"0:{max(offset - self.page_size, 0)}:1"
        following = f"0:{offset + self.page_size}:0"
        return f"{one(previous, 'previous', offset > 0)}, {one(following, 'next', more)}"

    def _available(self, _query: dict, _body: Any) -> tuple[int, dict, Any]:
        return 200, {}, [
            {"type": "email", "allowedTargetTypes": ["user", "team"], "integrationName": None,
             "integrationId": None},
            {"type": "sentry_app", "allowedTargetTypes": ["sentry_app"], "integrationName": None,
             "integrationId": None, "sentryAppName": "Someone else's app", "sentryAppId": 7,
             "sentryAppInstallationUuid": str(uuid.uuid4()), "status": "internal"},
            {"type": "sentry_app", "allowedTargetTypes": ["sentry_app"], "integrationName": None,
             "integrationId": None, "sentryAppName": self.integration, "sentryAppId": self.app_id,
             "sentryAppInstallationUuid": self.installation_uuid, "status": "internal"},
        ]  # fmt: skip

    # --- issue alert rules -------------------------------------------------------------
    def _validate_issue_rule(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise Invalid("non_field_errors", "Invalid data. Expected a dictionary.")
        name = _require(data, "name", str)
        if len(name) > 64:
            raise Invalid("name", "Ensure this field has no more than 64 characters.")
        _choice(data, "actionMatch", MATCHES)
        _choice(data, "filterMatch", MATCHES, required=False)
        frequency = _require(data, "frequency", int)
        if not 5 <= frequency <= 43200:
            raise Invalid("frequency", "Ensure this value is between 5 and 43200.")
        _optional_text(data, "environment")
        for condition in _require(data, "conditions", list):
            if not isinstance(condition, dict) or condition.get("id") not in CONDITIONS:
                raise Invalid("conditions", f"Invalid node: {condition!r}")
            if condition["id"].endswith("EventFrequencyCondition"):
                if not isinstance(condition.get("value"), int) or isinstance(
                    condition["value"], bool
                ):
                    raise Invalid("conditions", "Value: This field is required (an integer).")
                if condition.get("interval") not in FREQUENCY_INTERVALS:
                    raise Invalid("conditions", "Interval: not a valid choice.")
        for item in data.get("filters") or []:
            if not isinstance(item, dict) or item.get("id") not in FILTERS:
                raise Invalid("filters", f"Invalid node: {item!r}")
            if item["id"].endswith("LevelFilter"):
                if item.get("match") not in {"eq", "gte", "lte"} or item.get("level") not in LEVELS:
                    raise Invalid("filters", "Level filter: match and level must be valid choices.")
            else:
                if not isinstance(item.get("key"), str) or item.get("match") not in TAG_MATCHES:
                    raise Invalid("filters", "Tag filter: key and a valid match are required.")
                if item["match"] not in {"is", "ns"} and not isinstance(item.get("value"), str):
                    raise Invalid("filters", "Tag filter: value is required for this match.")
        if data.get("filters") and "filterMatch" not in data:
            raise Invalid(
                "filterMatch",
                "Must select a filter match (all, any, none) if filters are supplied.",
            )
        actions = _require(data, "actions", list)
        if not actions:
            raise Invalid("actions", "You must add an action for this alert to fire.")
        for action in actions:
            if not isinstance(action, dict) or action.get("id") not in ACTIONS:
                raise Invalid("actions", f"Invalid node: {action!r}")
            if action["id"].endswith("NotifyEventSentryAppAction"):
                if action.get("sentryAppInstallationUuid") != self.installation_uuid:
                    raise Invalid("actions", "Could not find the Sentry app installation.")
            elif action.get("targetType") not in {"IssueOwners", "Team", "Member"} or action.get(
                "fallthroughType", "ActiveMembers"
            ) not in {"ActiveMembers", "AllMembers", "NoOne"}:
                raise Invalid(
                    "actions", "Email action: targetType or fallthroughType is not valid."
                )

    def _issue_rule_answer(self, rule_id: str, data: dict) -> dict:
        def labelled(nodes: list[dict], labels: dict[str, str]) -> list[dict]:
            return [
                {**node, "name": labels.get(node["id"], "Send a notification")} for node in nodes
            ]

        return {
            "id": rule_id,
            "name": data["name"],
            "conditions": labelled(data["conditions"], CONDITIONS),
            "filters": labelled(data.get("filters") or [], FILTERS),
            "actions": labelled(data["actions"], {}),
            "actionMatch": data["actionMatch"],
            "filterMatch": data.get("filterMatch") or "all",
            "frequency": data["frequency"],
            "environment": data.get("environment"),
            "projects": [self.project],
            "owner": None,
            "createdBy": {"id": 1, "name": "ci", "email": "ci@example.com"},
            "dateCreated": "2026-12-03T12:00:00.000000Z",
            "status": "active",
            "snooze": False,
        }

    def _refuse_duplicates(self, body: dict, rule_id: str | None) -> None:
        """Sentry refuses a rule identical to another of the project but for its name
        (project_rules.py, find_duplicate_rule)."""

        def essence(rule: dict) -> tuple:
            nodes = [
                {k: v for k, v in node.items() if k != "name"}
                for node in [*rule["conditions"], *(rule.get("filters") or []), *rule["actions"]]
            ]
            return (
                json.dumps(nodes, sort_keys=True),
                rule["actionMatch"],
                rule.get("filterMatch") or "all",
                rule["frequency"],
                rule.get("environment"),
            )

        for other_id, other in self.issue_rules.items():
            if other_id != rule_id and essence(other) == essence(body):
                raise Invalid("name", f"This rule is an exact duplicate of '{other['name']}' in"
                                      " this project and may not be created.")  # fmt: skip

    def _create_issue_rule(self, _query: dict, body: Any) -> tuple[int, dict, Any]:
        self._validate_issue_rule(body)
        self._refuse_duplicates(body, None)
        rule_id = self.next_id()
        self.issue_rules[rule_id] = self._issue_rule_answer(rule_id, body)
        return 200, {}, self.issue_rules[rule_id]  # project_rules.py answers 200 here

    def _update_issue_rule(self, rule_id: str, body: Any) -> tuple[int, dict, Any]:
        self._validate_issue_rule(body)  # PUT takes the whole rule again
        self._refuse_duplicates(body, rule_id)
        self.issue_rules[rule_id] = self._issue_rule_answer(rule_id, body)
        return 200, {}, self.issue_rules[rule_id]

    # --- metric alert rules ------------------------------------------------------------
    def _validate_metric_rule(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise Invalid("non_field_errors", "Invalid data. Expected a dictionary.")
        if len(_require(data, "name", str)) > 256:
            raise Invalid("name", "Ensure this field has no more than 256 characters.")
        _require(data, "aggregate", str)
        _require(data, "query", str)
        _choice(data, "timeWindow", TIME_WINDOWS)
        _choice(data, "thresholdType", {0, 1})
        _choice(data, "dataset", DATASETS, required=False)
        _choice(data, "queryType", {0, 1, 2}, required=False)
        _optional_text(data, "environment")
        if set(data.get("eventTypes") or []) - {"default", "error", "transaction"}:
            raise Invalid("eventTypes", "Invalid event type.")
        if _require(data, "projects", list) != [self.project]:
            raise Invalid("projects", "Invalid project")
        triggers = _require(data, "triggers", list)
        labels = [
            trigger.get("label") if isinstance(trigger, dict) else None for trigger in triggers
        ]
        if (
            "critical" not in labels
            or set(labels) - {"critical", "warning"}
            or len(set(labels)) != len(labels)
        ):
            raise Invalid(
                "triggers", 'Each trigger is "critical" or "warning"; a critical one is required.'
            )
        for trigger in triggers:
            threshold = trigger.get("alertThreshold")
            if isinstance(threshold, bool) or not isinstance(threshold, int | float):
                raise Invalid("triggers", "alertThreshold: a number is required.")
            for action in trigger.get("actions") or []:
                if (
                    action.get("type") not in TRIGGER_ACTION_TYPES
                    or action.get("targetType") not in TARGET_TYPES
                ):
                    raise Invalid("triggers", "Action: type or targetType is not a valid choice.")
                if action["type"] == "sentry_app" and (
                    action.get("sentryAppId") != self.app_id
                    or action.get("targetType") != "sentry_app"
                ):
                    raise Invalid(
                        "triggers", "Action: sentryAppId must be an installed Sentry app."
                    )

    def _metric_rule_answer(self, rule_id: str, data: dict) -> dict:
        triggers = []
        for trigger in data["triggers"]:
            trigger_id = self.next_id()
            actions = [
                {"id": self.next_id(), "alertRuleTriggerId": trigger_id, **action,
                 "targetIdentifier": str(action.get("targetIdentifier")),
                 "inputChannelId": None, "integrationId": None, "priority": None,
                 "dateCreated": "2026-12-03T12:00:00.000000Z",
                 "desc": f"Send a notification via {self.integration}"}
                for action in trigger.get("actions") or []
            ]  # fmt: skip
            triggers.append({
                "id": trigger_id, "alertRuleId": rule_id, "label": trigger["label"],
                "thresholdType": data["thresholdType"],
                "alertThreshold": float(trigger["alertThreshold"]), "resolveThreshold": None,
                "dateCreated": "2026-12-03T12:00:00.000000Z", "actions": actions,
            })  # fmt: skip
        return {
            "id": rule_id, "name": data["name"], "organizationId": "1",
            "queryType": data.get("queryType", 0), "dataset": data.get("dataset", "events"),
            "query": data["query"], "aggregate": data["aggregate"],
            "thresholdType": data["thresholdType"], "resolveThreshold": None,
            "timeWindow": float(data["timeWindow"]), "environment": data.get("environment"),
            "resolution": 1.0, "thresholdPeriod": 1, "triggers": triggers,
            "projects": data["projects"], "owner": None, "comparisonDelta": None,
            "eventTypes": sorted(data.get("eventTypes") or ["error"]),
            "dateModified": "2026-12-03T12:00:00.000000Z",
            "dateCreated": "2026-12-03T12:00:00.000000Z", "createdBy": None,
        }  # fmt: skip

    def _create_metric_rule(self, _query: dict, body: Any) -> tuple[int, dict, Any]:
        self._validate_metric_rule(body)
        rule_id = self.next_id()
        self.metric_rules[rule_id] = self._metric_rule_answer(rule_id, body)
        return 201, {}, self.metric_rules[rule_id]

    def _update_metric_rule(self, rule_id: str, body: Any) -> tuple[int, dict, Any]:
        self._validate_metric_rule(body)
        self.metric_rules[rule_id] = self._metric_rule_answer(rule_id, body)
        return 200, {}, self.metric_rules[rule_id]

    # --- cron monitors -----------------------------------------------------------------
    def _validate_monitor(self, data: Any, partial: bool) -> None:
        if not isinstance(data, dict):
            raise Invalid("non_field_errors", "Invalid data. Expected a dictionary.")
        if (not partial or "project" in data) and _require(data, "project", str) != self.project:
            raise Invalid("project", "Invalid project")
        if (not partial or "name" in data) and len(_require(data, "name", str)) > 128:
            raise Invalid("name", "Ensure this field has no more than 128 characters.")
        if "slug" in data:
            slug = _require(data, "slug", str)
            if len(slug) > 50 or not SLUG.match(slug):
                raise Invalid("slug", "Invalid monitor slug.")
        if not partial or "config" in data:
            config = _require(data, "config", dict)
            kind = _choice(config, "schedule_type", {"crontab", "interval"})
            schedule = config.get("schedule")
            if kind == "crontab" and not (isinstance(schedule, str) and len(schedule.split()) == 5):
                raise Invalid("schedule", "Schedule is invalid")
            if kind == "interval" and not (
                isinstance(schedule, list) and len(schedule) == 2
                and isinstance(schedule[0], int) and schedule[0] >= 1
                and schedule[1] in INTERVAL_UNITS
            ):  # fmt: skip
                raise Invalid("schedule", "Invalid schedule for schedule_type")
            _optional_text(config, "timezone")

    def _monitor_answer(self, monitor_id: str, data: dict) -> dict:
        config = {
            "checkin_margin": None, "max_runtime": None, "timezone": "UTC",
            "failure_issue_threshold": None, "recovery_threshold": None, "alert_rule_id": None,
            **data["config"],
        }  # fmt: skip
        return {
            "id": monitor_id, "name": data["name"], "slug": data["slug"], "status": "active",
            "isMuted": False, "type": "cron_job", "config": config,
            "dateCreated": "2026-12-03T12:00:00.000000Z",
            "project": {"id": "1", "slug": self.project, "name": self.project},
            "environments": [],
        }  # fmt: skip

    def _create_monitor(self, _query: dict, body: Any) -> tuple[int, dict, Any]:
        self._validate_monitor(body, partial=False)
        if "slug" not in body:
            raise Invalid("slug", "This field is required.")
        if body["slug"] in self.monitors:
            raise Invalid("slug", f'The slug "{body["slug"]}" is already in use.')
        self.monitors[body["slug"]] = self._monitor_answer(str(uuid.uuid4()), body)
        return 201, {}, self.monitors[body["slug"]]

    def _update_monitor(self, slug: str, body: Any) -> tuple[int, dict, Any]:
        self._validate_monitor(body, partial=True)
        current = self.monitors[slug]
        merged = {"name": current["name"], "slug": slug, "config": current["config"], **body}
        del self.monitors[slug]
        self.monitors[merged["slug"]] = self._monitor_answer(current["id"], merged)
        return 200, {}, self.monitors[merged["slug"]]

    def add_sdk_monitor(self, slug: str, schedule: Any, schedule_type: str) -> None:
        """What a check-in upsert leaves: a monitor named after its slug."""
        self.monitors[slug] = self._monitor_answer(
            str(uuid.uuid4()),
            {
                "name": slug,
                "slug": slug,
                "config": {"schedule_type": schedule_type, "schedule": schedule},
            },
        )

    # --- uptime monitors ---------------------------------------------------------------
    def _validate_uptime(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise Invalid("non_field_errors", "Invalid data. Expected a dictionary.")
        if len(_require(data, "name", str)) > 128:
            raise Invalid("name", "Ensure this field has no more than 128 characters.")
        url = _require(data, "url", str)
        if not re.match(r"^https?://[^/\s]+", url) or len(url) > 255:
            raise Invalid("url", "Enter a valid URL.")
        _choice(data, "interval_seconds", UPTIME_INTERVALS)
        timeout = _require(data, "timeout_ms", int)
        if not 1000 <= timeout <= 60000:
            raise Invalid("timeout_ms", "Ensure this value is between 1000 and 60000.")
        _choice(data, "method", UPTIME_METHODS, required=False)
        _optional_text(data, "environment")

    def _uptime_answer(self, monitor_id: str, data: dict) -> dict:
        return {
            "id": monitor_id, "projectSlug": self.project, "environment": data.get("environment"),
            "name": data["name"], "status": "active", "uptimeStatus": 1, "mode": 1,
            "url": data["url"], "method": data.get("method", "GET"), "body": None, "headers": [],
            "intervalSeconds": data["interval_seconds"], "timeoutMs": data["timeout_ms"],
            "owner": None, "traceSampling": False,
        }  # fmt: skip

    def _create_uptime(self, _query: dict, body: Any) -> tuple[int, dict, Any]:
        self._validate_uptime(body)
        monitor_id = self.next_id()
        self.uptime[monitor_id] = self._uptime_answer(monitor_id, body)
        return 201, {}, self.uptime[monitor_id]

    def _update_uptime(self, monitor_id: str, body: Any) -> tuple[int, dict, Any]:
        self._validate_uptime(body)
        self.uptime[monitor_id] = self._uptime_answer(monitor_id, body)
        return 200, {}, self.uptime[monitor_id]

    # --- HTTP --------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                authorization = self.headers.get("Authorization", "")
                with stub._lock:
                    stub.calls.append(Call(self.command, parts.path, query, body, authorization))
                    status, headers, answer = stub._answer(
                        self.command, parts.path, query, body, authorization
                    )
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def _answer(
        self, method: str, path: str, query: dict, body: Any, authorization: str
    ) -> tuple[int, dict, Any]:
        if self.faults:
            fault = self.faults[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.pop(0)
            return fault.status, fault.headers, fault.body
        if authorization != f"Bearer {self.token}":
            return 401, {}, {"detail": "Invalid token"}
        self._current_path = path
        try:
            return self.handle(method, path, query, body)
        except Invalid as error:
            return 400, {}, error.body
        except PermissionError:
            return 403, {}, {"detail": "You do not have permission to perform this action."}
