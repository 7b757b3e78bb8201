"""The health endpoints. They never raise: a broken probe answers 503, not a 500."""

import hmac
import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .checks import database_stats
from .result import SEVERITY
from .runner import Outcome, call, run_checks

logger = logging.getLogger(__package__)
OVERALL = {0: "healthy", 1: "degraded", 2: "unhealthy"}


View = Callable[[HttpRequest], JsonResponse]


def probe(failure_status: str) -> Callable[[View], View]:
    """GET/HEAD only, never cached, and an unexpected bug answers 503 instead of raising."""

    def decorate(view: View) -> View:
        @never_cache
        @require_safe
        @wraps(view)
        def wrapper(request: HttpRequest) -> JsonResponse:
            try:
                return view(request)
            except Exception as exc:
                logger.warning("Health view %s failed: %r", view.__name__, exc)
                return JsonResponse({"status": failure_status}, status=503)

        return wrapper

    return decorate


@never_cache
@require_safe
def liveness(request: HttpRequest) -> JsonResponse:
    """The process answers: touches no database, cache or broker."""
    return JsonResponse({"status": "alive"})


@probe("not_ready")
def readiness(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the checks of HEALTH_READY_CHECKS (database, cache, broker) pass."""
    outcomes = run_checks(settings.HEALTH_READY_CHECKS, settings.HEALTH_CHECK_TIMEOUT)
    ready = all(outcome.status != "error" for outcome in outcomes.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "timestamp": timezone.now().isoformat(),
        "checks": checks_body(outcomes, show_details(request)),
    }
    return JsonResponse(body, status=200 if ready else 503)


@probe("unhealthy")
def health(request: HttpRequest) -> JsonResponse:
    """Every check: healthy (all ok), degraded (a warning, 200) or unhealthy (an error, 503)."""
    outcomes = run_checks(settings.HEALTH_CHECKS, settings.HEALTH_CHECK_TIMEOUT)
    worst = max((SEVERITY[outcome.status] for outcome in outcomes.values()), default=0)
    body = {
        "status": OVERALL[worst],
        "timestamp": timezone.now().isoformat(),
        "version": settings.RELEASE_VERSION,
        "environment": settings.ENVIRONMENT,
        "checks": checks_body(outcomes, show_details(request)),
    }
    return JsonResponse(body, status=503 if worst == SEVERITY["error"] else 200)


@probe("error")
def database_details(request: HttpRequest) -> JsonResponse:
    """/health/db/: PostgreSQL connection count and oldest connection age.

    Other engines: reachability only. The `database` check of /health/ is checks.database.
    """
    timeout = settings.HEALTH_CHECK_TIMEOUT
    try:
        stats = call("database-stats", database_stats, timeout)
    except TimeoutError:
        logger.warning("Health check database-stats missed the %g s deadline", timeout)
        body = {"status": "error", "message": f"timed out after {timeout:g} s"}
        return JsonResponse(body, status=503)
    except Exception as exc:
        logger.warning("Health check database-stats failed: %s: %s", type(exc).__name__, exc)
        return JsonResponse({"status": "error", "message": "check failed"}, status=503)
    if not show_details(request):
        stats = {"engine": stats["engine"]}
    return JsonResponse({"status": "ok", **stats})


def checks_body(outcomes: dict[str, Outcome], details: bool) -> dict[str, dict[str, object]]:
    body = {}
    for name, outcome in outcomes.items():
        entry: dict[str, object] = {"status": outcome.status, "duration_ms": outcome.duration_ms}
        if details and outcome.message:
            entry["message"] = outcome.message
        body[name] = entry
    return body


def show_details(request: HttpRequest) -> bool:
    """Messages are public unless HEALTH_CHECK_TOKEN is set; then they need the bearer token."""
    token = settings.HEALTH_CHECK_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
