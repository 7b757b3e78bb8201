"""A stand-in for Sentry's "List a Project's Issues" endpoint that refuses what Sentry would.

GET /api/0/projects/{org}/{project}/issues/ as getsentry/sentry documents and implements
it (src/sentry/issues/endpoints/project_group_index.py, the StreamGroupSerializer, the
cursor paginator):
- Bearer token, else 401 {"detail": ...}; a token without project:read, 403; an unknown
  org or project, 404;
- `statsPeriod` one of "", "24h", "14d" (else 400 with Sentry's own message), default
  "24h"; `limit` 1..100; `sort` one of Sentry's sorts; `cursor` as "<value>:<offset>:<is_prev>";
- `query`: the structured search subset the checks use (is:, level:, firstSeen:/lastSeen:
  with -<n>h|d|w or an operator and an ISO date); anything else is a 400, as an invalid
  search is there;
- issues serialized with the documented fields: ids and `count` as strings, `stats`
  keyed by the period with one [unix time, count] bucket per day (14d) or hour (24h);
- pagination through the `Link` header, rel="previous" and rel="next" with `results`.
A request that breaks a rule is recorded in `errors`, so a test can assert none did.
"""

from __future__ import annotations

import operator
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from .loopback import Received, Reply

STATS_PERIODS = {"24h": (24, 3600), "14d": (14, 86400)}
SORTS = {"date", "new", "freq", "priority", "user", "trends", "inbox"}
PARAMS = {"statsPeriod", "shortIdLookup", "query", "environment", "limit", "cursor", "sort"}
CURSOR = re.compile(r"^\d+:(\d+):[01]$")
RELATIVE = re.compile(r"^-(\d+)([mhdw])$")
ABSOLUTE = re.compile(r"^(>=|<=|>|<)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
STATUSES = {"unresolved", "resolved", "ignored", "archived"}
SUBSTATUSES = {"regressed", "escalating", "ongoing", "new"}
LEVELS = {"fatal", "error", "warning", "info", "debug"}
COMPARISONS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass
class Issue:
    """One issue of the fixture project; `daily` maps a UTC date to its event count."""

    id: int
    title: str
    first_seen: datetime
    last_seen: datetime
    daily: dict[str, int] = field(default_factory=dict)
    level: str = "error"
    status: str = "unresolved"
    substatus: str = "ongoing"


class InvalidQuery(ValueError):
    pass


class SentryIssuesAPI:
    """A StubServer responder: `stub_server(SentryIssuesAPI(...))`."""

    def __init__(
        self,
        issues: list[Issue],
        *,
        token: str,
        org: str = "acme",
        project: str = "shop",
        scopes: tuple[str, ...] = ("project:read",),
        page_size: int = 100,
        now: datetime | None = None,
    ) -> None:
        self.issues = issues
        self.token, self.org, self.project, self.scopes = token, org, project, scopes
        self.page_size = page_size  # below `limit` to exercise pagination
        self.now = now or datetime.now(UTC)
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, received: Received) -> Reply:
        parts = urlsplit(received.path)
        if received.method != "GET":
            return self._refuse(405, f"method {received.method}")
        if received.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"detail": "Invalid token"})
        if "project:read" not in self.scopes:
            return Reply(403, {"detail": "You do not have permission to perform this action."})
        if parts.path != f"/api/0/projects/{self.org}/{self.project}/issues/":
            return Reply(404, {"detail": "The requested resource does not exist"})
        raw = parse_qs(parts.query, keep_blank_values=True)
        if unknown := set(raw) - PARAMS:
            return self._refuse(400, f"unknown parameters {sorted(unknown)}")
        if any(len(values) > 1 for values in raw.values()):
            return self._refuse(400, "a parameter given twice")
        params = {key: values[0] for key, values in raw.items()}
        period = params.get("statsPeriod", "24h")
        if period not in ("", *STATS_PERIODS):
            message = "Invalid stats_period. Valid choices are '', '24h', and '14d'"
            return self._refuse(400, message)
        try:
            limit = int(params.get("limit", "100"))
            offset = self._offset(params.get("cursor", ""))
            if not 1 <= limit <= 100:
                raise InvalidQuery(f"limit {limit} is not from 1 to 100")
            if params.get("sort", "date") not in SORTS:
                raise InvalidQuery(f"invalid sort {params['sort']!r}")
            matches = self._matcher(params.get("query"))
            selected = [issue for issue in self.issues if matches(issue)]
        except (InvalidQuery, ValueError) as exc:
            return self._refuse(400, str(exc))
        size = min(limit, self.page_size)
        page = selected[offset : offset + size]
        body = [self._serialize(issue, period) for issue in page]
        base = f"http://{received.headers['Host']}{parts.path}"
        links = [
            self._link(base, params, max(offset - size, 0), "previous", offset > 0, True),
            self._link(base, params, offset + size, "next", offset + size < len(selected), False),
        ]
        return Reply(200, body, headers={"Link": ", ".join(links)})

    def _refuse(self, status: int, detail: str) -> Reply:
        with self._lock:
            self.errors.append(detail)
        return Reply(status, {"detail": detail})

    @staticmethod
    def _offset(cursor: str) -> int:
        if not cursor:
            return 0
        match = CURSOR.match(cursor)
        if not match:
            raise InvalidQuery(f"invalid cursor {cursor!r}")
        return int(match.group(1))

    @staticmethod
    def _link(base: str, params: dict, offset: int, rel: str, results: bool, prev: bool) -> str:
        cursor = f"0:{offset}:{int(prev)}"
        url = f"{base}?{urlencode({**params, 'cursor': cursor})}"
        return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

    def _matcher(self, query: str | None) -> Callable[[Issue], bool]:
        """The query as a predicate; every term is checked before any issue is."""
        # No query at all means Sentry's default, is:unresolved; an empty one, everything.
        terms = ["is:unresolved"] if query is None else query.split()
        tests = [self._term(term) for term in terms]
        return lambda issue: all(test(issue) for test in tests)

    def _term(self, term: str) -> Callable[[Issue], bool]:
        key, sep, value = term.partition(":")
        if not sep or not value:
            raise InvalidQuery(f"free-text search {term!r} is not supported here")
        if key == "is":
            if value not in STATUSES | SUBSTATUSES:
                raise InvalidQuery(f"invalid is: value {value!r}")
            return lambda issue: value in (issue.status, issue.substatus)
        if key == "level":
            if value not in LEVELS:
                raise InvalidQuery(f"invalid level {value!r}")
            return lambda issue: issue.level == value
        if key in ("firstSeen", "lastSeen"):
            seen = (lambda i: i.first_seen) if key == "firstSeen" else (lambda i: i.last_seen)
            if match := RELATIVE.match(value):
                since = self.now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
                return lambda issue: seen(issue) >= since
            if match := ABSOLUTE.match(value):
                bound = datetime.fromisoformat(match.group(2)).replace(tzinfo=UTC)
                compare = COMPARISONS[match.group(1)]
                return lambda issue: compare(seen(issue), bound)
            raise InvalidQuery(f"invalid date filter {term!r}")
        raise InvalidQuery(f"unsupported search key {key!r}")

    def _serialize(self, issue: Issue, period: str) -> dict:
        short_id = f"{self.project.upper()}-{issue.id}"
        serialized = {
            "id": str(issue.id),
            "shortId": short_id,
            "title": issue.title,
            "culprit": "app.views in handler",
            "permalink": f"https://acme.sentry.io/issues/{issue.id}/",
            "logger": None,
            "level": issue.level,
            "status": issue.status,
            "substatus": issue.substatus,
            "statusDetails": {},
            "isPublic": False,
            "platform": "python",
            "project": {"id": "2", "name": self.project, "slug": self.project},
            "type": "error",
            "metadata": {"type": issue.title.split(":")[0], "value": issue.title},
            "numComments": 0,
            "assignedTo": None,
            "isBookmarked": False,
            "isSubscribed": False,
            "hasSeen": False,
            "annotations": [],
            "isUnhandled": False,
            "count": str(sum(issue.daily.values())),
            "userCount": 0,
            "firstSeen": issue.first_seen.isoformat().replace("+00:00", "Z"),
            "lastSeen": issue.last_seen.isoformat().replace("+00:00", "Z"),
        }
        if period:
            serialized["stats"] = {period: self._buckets(issue, period)}
        return serialized

    def _buckets(self, issue: Issue, period: str) -> list[list[int]]:
        count, seconds = STATS_PERIODS[period]
        last = int(self.now.timestamp()) // seconds * seconds
        buckets = []
        for index in range(count - 1, -1, -1):
            start = last - index * seconds
            day = datetime.fromtimestamp(start, UTC).date().isoformat()
            # Daily figures only: an hourly bucket gets the day's count once, at midnight.
            at_midnight = start % 86400 == 0
            buckets.append([start, issue.daily.get(day, 0) if at_midnight else 0])
        return buckets
