"""Sentry integration webhook receiver: POST /webhooks/sentry/.

Checks, in order: method (405), configured secret (503), size (413), signature
(401), timestamp (400), JSON (400). A repeat (same Request-ID, or same body) is
answered 200 "duplicate"; a resource or action that raises no alert 200
"ignored"; an alert 202 "accepted" once it is queued. The view calls nobody:
the Celery tasks in tasks.py deliver the alert.

Sentry signs the body only, so the timestamp and Request-ID headers prove
nothing on their own: remembering body digests is what stops a replay.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .alerts import Alert, Severity
{%- if cookiecutter.use_prometheus == "y" %}
from .metrics.instruments import observe_webhook_alert
{%- endif %}
from .tasks import dispatch_alert

logger = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 300
SEEN_SECONDS = 24 * 3600
READ_CHUNK = 64 * 1024
TIMESTAMP = re.compile(r"^\d{1,12}(\.\d{1,9})?$")
API_PROJECT = re.compile(r"/projects/[^/]+/([^/]+)/")


class BodyTooLarge(Exception):
    pass


class BadContentLength(Exception):
    pass


def _answer(code: int, /, **body: str) -> JsonResponse:
    return JsonResponse(body, status=code)


def read_body(request: HttpRequest) -> bytes:
    """The raw body, reading at most MAX_BODY_BYTES + 1 bytes whatever the client claims."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared:
        if not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is True
            raise BadContentLength
        if int(declared) > MAX_BODY_BYTES:
            raise BodyTooLarge
        stream = request  # Django stops at Content-Length
    elif request.META.get("wsgi.input_terminated"):
        stream = request.META["wsgi.input"]  # chunked: the server marks the end
    else:
        stream = request
    chunks, size = [], 0
    while size <= MAX_BODY_BYTES:
        chunk = stream.read(min(READ_CHUNK, MAX_BODY_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BODY_BYTES:
        raise BodyTooLarge
    return b"".join(chunks)


def signature_valid(secret: str, body: bytes, signature: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, signature.strip().lower().encode("utf-8", "replace"))


def timestamp_fresh(value: str) -> bool:
    value = value.strip()
    if not TIMESTAMP.match(value):
        return False
    moment = float(value)
    return math.isfinite(moment) and abs(time.time() - moment) <= MAX_CLOCK_SKEW_SECONDS


# Parsing: Sentry's payloads are trusted (signed) but their shape is not checked
# anywhere else, so every lookup tolerates a missing key or a wrong type.


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


def _event_environment(event: dict[str, Any]) -> str:
    if _text(event.get("environment")):
        return _text(event["environment"])
    tags = event.get("tags") if isinstance(event.get("tags"), list) else []
    pairs = (tag for tag in tags if isinstance(tag, list) and len(tag) == 2)
    return next((_text(value) for key, value in pairs if key == "environment"), "")


def _event_alert(action: str, data: dict[str, Any], alert_id: str) -> Alert | None:
    """An issue alert rule fired. Severity follows the event level."""
    if action != "triggered":
        return None
    event = _obj(data, "event")
    level = _text(event.get("level")).lower()
    severity = {"fatal": Severity.CRITICAL, "info": Severity.INFO, "debug": Severity.INFO}.get(
        level, Severity.WARNING
    )
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
    """A new issue (info), or an issue resolved in Sentry (closes its page)."""
    labels = {"created": ("New issue", Severity.INFO), "resolved": ("Resolved", Severity.RESOLVED)}
    if action not in labels:
        return None
    label, severity = labels[action]
    issue = _obj(data, "issue")
    issue_id = _text(issue.get("id"))
    return Alert(
        id=alert_id,
        title=f"{label}: {_text(issue.get('title')) or 'Sentry issue'}",
        severity=severity,
        url=_text(issue.get("web_url")) or _text(issue.get("permalink")),
        project=_text(_obj(issue, "project").get("slug")),
        fingerprint=f"sentry-issue-{issue_id}" if issue_id else "",
    )


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


def _remember(keys: list[str]) -> bool:
    """Mark each key seen (atomic add); False if one already was."""
    added = [cache.add(key, 1, timeout=SEEN_SECONDS) for key in keys]  # every key, no short cut
    return all(added)


@csrf_exempt
def sentry_webhook(request: HttpRequest) -> JsonResponse:
{%- if cookiecutter.use_prometheus == "y" %}
    outcome, response = _receive(request)
    if outcome:
        observe_webhook_alert(outcome)
{%- else %}
    _, response = _receive(request)
{%- endif %}
    return response


def _receive(request: HttpRequest) -> tuple[str, JsonResponse]:
    """The answer to one delivery, and its outcome ("" when it is not a delivery at all)."""
    if request.method != "POST":
        response = _answer(405, error="Use POST.")
        response["Allow"] = "POST"
        return "", response
    secret = settings.SENTRY_WEBHOOK_SECRET
    if not secret:
        return "not_configured", _answer(
            503, error="The receiver is not configured (SENTRY_WEBHOOK_SECRET)."
        )
    try:
        body = read_body(request)
    except BodyTooLarge:
        return "too_large", _answer(413, error=f"The body is over {MAX_BODY_BYTES} bytes.")
    except BadContentLength:
        return "bad_request", _answer(400, error="Invalid Content-Length.")
    if not signature_valid(secret, body, request.headers.get("Sentry-Hook-Signature", "")):
        return "bad_signature", _answer(401, error="Missing or invalid Sentry-Hook-Signature.")
    if not timestamp_fresh(request.headers.get("Sentry-Hook-Timestamp", "")):
        return "bad_request", _answer(
            400, error="Sentry-Hook-Timestamp is missing or more than 300 s away."
        )
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return "bad_request", _answer(400, error="The body is not valid JSON.")
    if not isinstance(payload, dict):
        return "bad_request", _answer(400, error="Expected a JSON object.")
    resource = request.headers.get("Sentry-Hook-Resource", "")
    digest = hashlib.sha256(body).hexdigest()
    try:
        alert = parse_alert(resource, payload, alert_id=digest)
    except Exception:  # a payload shape nobody foresaw must not become a 500
        logger.exception("sentry webhook payload not understood", resource=resource[:64])
        return "bad_request", _answer(400, error="Payload not understood.")
    if alert is None:
        return "ignored", _answer(200, status="ignored")

    keys = [f"alerts:webhook:body:{digest}"]
    request_id = request.headers.get("Request-ID", "")
    if request_id:
        keys.append(f"alerts:webhook:request:{hashlib.sha256(request_id.encode()).hexdigest()}")
    try:
        if not _remember(keys):
            logger.info("sentry webhook repeated, ignored", alert_id=alert.id)
            return "duplicate", _answer(200, status="duplicate")
        dispatch_alert.delay(alert.to_dict())
    except Exception:  # cache or broker down: answer so that Sentry may try again
        logger.exception("sentry webhook could not be queued", alert_id=alert.id)
        with contextlib.suppress(Exception):  # when the cache is what failed
            cache.delete_many(keys)
        return "unavailable", _answer(503, error="Temporarily unable to queue the alert.")
    logger.info(
        "sentry webhook accepted",
        resource=resource[:64],
        severity=str(alert.severity),
        alert_id=alert.id,
    )
    return "accepted", _answer(202, status="accepted", alert_id=alert.id)
