"""Sentry integration webhook receiver: POST /webhooks/sentry/.

Checks, in order: method (405), configured secret (503), size (413), a body
that can be read at all (400), signature (401), timestamp (400), JSON (400). A
repeat (same Request-ID, or same body) is answered 200 "duplicate"; a resource
or action that raises no alert 200 "ignored"; an alert 202 "accepted" once it
is queued. What a payload means is payloads.py's business; the view calls
nobody: the Celery tasks in tasks.py deliver the alert. Every delivery's
outcome is sent as the webhook_received signal.

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

import structlog
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .payloads import parse_alert
from .signals import webhook_received
from .tasks import dispatch_alert

logger = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 300
SEEN_SECONDS = 24 * 3600
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


def _remember(keys: list[str]) -> bool:
    """Mark each key seen (atomic add); False if one already was."""
    added = [cache.add(key, 1, timeout=SEEN_SECONDS) for key in keys]  # every key, no short cut
    return all(added)


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
