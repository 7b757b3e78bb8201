"""/health/'s `alert_path` check: a warning while the alert path's probes do not come back."""

from django.utils import timezone

from ..monitoring.health.result import Result, ok, warning
from .alert_path import state


def alert_path(seconds_left: float) -> Result:
    current = state()
    if not current.enabled:
        return ok("not probed (ALERT_PATH_CHECK_INTERVAL, SENTRY_DSN, SENTRY_WEBHOOK_SECRET)")
    if current.broken:
        since = current.last_round_trip
        when = f"{(timezone.now() - since).total_seconds() / 60:.0f} min ago" if since else "never"
        return warning(f"probe events do not come back through Sentry (last round trip: {when})")
    return ok()
