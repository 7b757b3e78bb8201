"""Carry out a plan: create, update, and (with prune) delete what we own and the file dropped.

Unchanged objects get no request at all, so a second `apply` sends only the listings.
"""

from __future__ import annotations

from collections.abc import Callable

from ..sentry_api import SentryClient
from .plan import CREATE, REMOVED, UPDATE, Change, Endpoints, Plan


def apply_plan(
    client: SentryClient,
    endpoints: Endpoints,
    plan: Plan,
    *,
    prune: bool,
    report: Callable[[Change, str], None],
) -> int:
    """Send the plan's writes in order; the number of objects written. Stops at the first error."""
    written = 0
    for change in plan.changes:
        if change.action == CREATE:
            client.request("POST", endpoints.collection(change.kind), change.body)
        elif change.action == UPDATE:
            client.request("PUT", endpoints.detail(change.kind, str(change.remote_id)), change.body)
        elif change.action == REMOVED and prune:
            client.request("DELETE", endpoints.detail(change.kind, str(change.remote_id)))
        else:
            continue
        written += 1
        report(change, "deleted" if change.action == REMOVED else f"{change.action}d")
    return written
