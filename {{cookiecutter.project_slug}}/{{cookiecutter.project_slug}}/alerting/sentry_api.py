"""A small client of Sentry's web API (`<SENTRY_URL>/api/0/...`), standard library only.

    client = SentryClient("https://sentry.io", token, org="my-org")
    rules = client.get_all(f"projects/{client.org}/my-project/rules/")
    client.request("POST", f"projects/{client.org}/my-project/rules/", {...})

- Every call has a timeout; 429 and 5xx (and network errors) are retried with exponential
  back-off, never sooner than the server's `Retry-After`, a bounded number of times.
- 401, 403 and 404 raise SentryApiError with one sentence naming what to check (the token
  and its scope, or the slug in the path); other 4xx carry Sentry's own error body.
- `get_all` follows `Link: <...>; rel="next"; results="true"` pages, only on the host of
  the base URL: the token is never sent anywhere else.
- The token is in no message, repr or log line.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

LINK = re.compile(r"<([^>]*)>([^,]*)")
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class SentryApiError(Exception):
    """One sentence saying what went wrong and what to check; `status` is the HTTP status."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def next_page(link_header: str) -> str:
    """The rel="next" URL of a Sentry Link header, if it says more results exist."""
    links: list[tuple[str, str]] = LINK.findall(link_header)
    for url, params in links:
        if 'rel="next"' in params and 'results="true"' in params:
            return url
    return ""


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), None when absent or garbled."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


class SentryClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        org: str,
        *,
        timeout: float = 10.0,
        max_tries: int = 5,
        backoff: float = 1.0,
        max_delay: float = 60.0,
        max_pages: int = 100,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.org = org
        self.timeout = timeout
        self.max_tries = max_tries
        self.backoff = backoff
        self.max_delay = max_delay
        self.max_pages = max_pages
        self._sleep = sleep
        self._origin = urlsplit(self.base_url)[:2]

    def __repr__(self) -> str:
        return f"SentryClient({self.base_url!r}, org={self.org!r})"

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        return f"{self.base_url}/api/0/{path.lstrip('/')}{query}"

    def request(self, method: str, path: str, json_body: Any = None) -> Any:
        """One call to `/api/0/<path>`; the decoded JSON answer (None when empty)."""
        _, _, body = self._call(method, self.url(path), json_body)
        return _decode(body, path)

    def get_all(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list, following the Link header on our own host."""
        url, items = self.url(path, params), []
        for _ in range(self.max_pages):
            _, headers, body = self._call("GET", url, None)
            page = _decode(body, path)
            if not isinstance(page, list):
                raise SentryApiError(f"Sentry's answer to GET {path} is not a list.")
            items.extend(page)
            url = next_page(headers.get("Link", ""))
            if not url:
                return items
            if urlsplit(url)[:2] != self._origin:
                raise SentryApiError(
                    f"Sentry's next page of {path} is on {urlsplit(url).netloc}, not on"
                    f" {urlsplit(self.base_url).netloc}: set SENTRY_URL to the URL Sentry"
                    " announces (the token is not sent elsewhere)."
                )
        raise SentryApiError(f"GET {path} has more than {self.max_pages} pages; stopped there.")

    def _call(self, method: str, url: str, json_body: Any) -> tuple[int, dict[str, str], bytes]:
        data = None if json_body is None else json.dumps(json_body).encode()
        path = urlsplit(url).path
        for attempt in range(1, self.max_tries + 1):
            request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only, from settings)
            request.add_header("Authorization", f"Bearer {self._token}")
            request.add_header("Accept", "application/json")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                status, headers, body = error.code, dict(error.headers), error.read()
            except (OSError, TimeoutError) as error:
                if attempt == self.max_tries:
                    raise SentryApiError(
                        f"{method} {path}: Sentry did not answer after {attempt} tries"
                        f" ({type(error).__name__})."
                    ) from None
                self._sleep(self._delay(attempt, None))
                continue
            if status in RETRIED_STATUSES and attempt < self.max_tries:
                self._sleep(self._delay(attempt, retry_after_seconds(headers.get("Retry-After"))))
                continue
            raise _status_error(method, path, status, body, attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.backoff * 2.0 ** (attempt - 1), self.max_delay)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay


def _status_error(method: str, path: str, status: int, body: bytes, tries: int) -> SentryApiError:
    if status == 401:
        message = "Sentry refused the token (HTTP 401): check SENTRY_AUTH_TOKEN."
    elif status == 403:
        message = (
            f"Sentry refused {method} {path} (HTTP 403): the token lacks a scope; it needs"
            " org:read, project:read, alerts:read and alerts:write (docs/alerting.md)."
        )
    elif status == 404:
        message = (
            f"Sentry has no {path} (HTTP 404): check SENTRY_ORG, SENTRY_PROJECT and SENTRY_URL."
        )
    elif status in RETRIED_STATUSES:
        message = f"{method} {path}: Sentry answered HTTP {status} {tries} times; giving up."
    else:
        detail = body[:500].decode("utf-8", "replace").strip()
        message = f"{method} {path}: Sentry answered HTTP {status}: {detail}"
    return SentryApiError(message, status)


def _decode(body: bytes, path: str) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise SentryApiError(f"Sentry's answer to {path} is not JSON.") from None
