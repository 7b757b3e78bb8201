"""Sentry integration webhook receiver: POST /webhooks/sentry/.

Checks, in order: method (405), configured secret (503), size (413), a body
that can be read at all (400), signature (401), timestamp (400), JSON (400). A
resource or action that raises no alert is answered 200 "ignored", the alert path's
own probe (alert_path.py) 200 "probe"; a repeat (same
Request-ID, or same body) 200 "duplicate"; a body whose event is older than what
the receiver remembers 200 "stale"; an alert 202 "accepted" once it is stored in
the outbox (outbox.py), which queues its deliveries. What a payload means is
payloads.py's business; the view calls no channel. Every delivery's outcome is
sent as the webhook_received signal.

Sentry signs the body only, so the timestamp and Request-ID headers prove
nothing on their own: the stored body digests (ALERT_RETENTION_DAYS) are what
stops a replay, and the age of the event itself covers what they no longer hold.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import alert_path
from .outbox import record_alert
from .payloads import issue_projects, occurred_at, parse_alert
from .signals import webhook_received

logger = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 300
READ_CHUNK = 64 * 1024
TIMESTAMP = re.compile(r"^\d{1,12}(\.\d{1,9})?$")


class BodyTooLarge(Exception):
    pass


class BadContentLength(Exception):
    pass


class UnreadableBody(Exception):
    """The body broke off: a malformed chunked encoding, or a client gone mid-body."""


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
        try:
            chunk = stream.read(min(READ_CHUNK, MAX_BODY_BYTES + 1 - size))
        except Exception as exc:
            # Whatever the server's body reader raises: gunicorn's chunk parser its
            # ParseException subclasses (not OSError), a client gone mid-body
            # NoMoreData, Django's own stream UnreadablePostError.
            raise UnreadableBody(type(exc).__name__) from exc
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


def from_our_projects(payload: dict[str, Any]) -> bool:
    """Issue webhooks come for every project of the organisation: keep ours (settings)."""
    wanted = set(settings.SENTRY_WEBHOOK_PROJECTS)
    return not wanted or "*" in wanted or bool(wanted & issue_projects(payload))


def too_old(moment: datetime | None) -> bool:
    """An event from before the oldest body digest still stored: its replay is not caught."""
    if moment is None:
        return False
    return datetime.now(UTC) - moment > timedelta(days=settings.ALERT_RETENTION_DAYS)


@csrf_exempt
def sentry_webhook(request: HttpRequest) -> JsonResponse:
    outcome, response = _receive(request)
    if outcome:
        webhook_received.send(sender=sentry_webhook, outcome=outcome)
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
    except UnreadableBody as exc:
        logger.warning("Sentry webhook body could not be read", reason=str(exc))
        return "bad_request", _answer(400, error="The body could not be read.")
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
    probe_id = alert_path.returning_probe(resource.strip(), payload)
    if probe_id is not None:  # the alert path's own test event: it alerts nobody
        try:
            known = bool(probe_id) and alert_path.probe_returned(probe_id)
        except DatabaseError:
            logger.exception("alert path probe could not be recorded")
            return "unavailable", _answer(503, error="Temporarily unable to record the probe.")
        logger.info("sentry webhook for an alert path probe", known=known)
        return "probe", _answer(200, status="probe")
    digest = hashlib.sha256(body).hexdigest()
    try:
        alert = parse_alert(resource, payload, alert_id=digest)
    except Exception:  # a payload shape nobody foresaw must not become a 500
        logger.exception("sentry webhook payload not understood", resource=resource[:64])
        return "bad_request", _answer(400, error="Payload not understood.")
    if alert is None:
        action = payload.get("action")
        logger.debug(
            "sentry webhook raises no alert, ignored",
            resource=resource[:64],
            action=action[:64] if isinstance(action, str) else "",
        )
        return "ignored", _answer(200, status="ignored")
    if resource.strip() == "issue" and not from_our_projects(payload):
        logger.info(
            "sentry issue webhook from a project not in SENTRY_WEBHOOK_PROJECTS, ignored",
            project=alert.project,
        )
        return "ignored", _answer(200, status="ignored")

    moment = occurred_at(resource, payload)
    if too_old(moment):
        logger.warning("sentry webhook for an old event, ignored", alert_id=alert.id)
        return "stale", _answer(200, status="stale")
    request_id = request.headers.get("Request-ID", "")
    try:
        deliveries = record_alert(
            alert,
            source="sentry",
            request_id=hashlib.sha256(request_id.encode()).hexdigest() if request_id else "",
            occurred_at=moment,
        )
    except DatabaseError:  # the outbox is down: refuse fast, nothing was stored
        logger.exception("sentry webhook could not be stored", alert_id=alert.id)
        return "unavailable", _answer(503, error="Temporarily unable to store the alert.")
    if deliveries is None:
        logger.info("sentry webhook repeated, ignored", alert_id=alert.id)
        return "duplicate", _answer(200, status="duplicate")
    logger.info(
        "sentry webhook accepted",
        resource=resource[:64],
        severity=str(alert.severity),
        alert_id=alert.id,
        channels=[delivery.channel for delivery in deliveries],
    )
    return "accepted", _answer(202, status="accepted", alert_id=alert.id)
