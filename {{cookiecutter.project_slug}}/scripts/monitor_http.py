"""The HTTP GET the checks of scripts/monitor.py share: a deadline, a size limit, no secrets.

Standard library only, as monitor.py. Every failure is a CheckError (UNKNOWN) whose
message names the URL without its user:password@.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from monitor_nagios import CheckError

MAX_BODY_BYTES = 1024 * 1024


def display_url(url: str) -> str:
    """The URL without user:password@."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def http_get(url: str, timeout: float, token: str = "") -> tuple[int, Any, bytes]:
    """GET with an overall deadline; returns (status, headers, body) for any HTTP status."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise CheckError(f"not an http(s) URL: {display_url(url)}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    if token:
        # Not forwarded if the server redirects elsewhere.
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    deadline = time.monotonic() + timeout
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked
    except urllib.error.HTTPError as exc:
        response = exc  # an error status still has headers and a body (503 from /health/)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise CheckError(f"{display_url(url)} timed out after {timeout:g} s") from None
        raise CheckError(f"cannot reach {display_url(url)}: {reason}") from None
    with response:
        chunks, size = [], 0
        try:
            while chunk := response.read(64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise CheckError(f"{display_url(url)} answered more than 1 MiB")
                if time.monotonic() > deadline:
                    raise CheckError(f"{display_url(url)} timed out after {timeout:g} s")
        except TimeoutError:
            raise CheckError(f"{display_url(url)} timed out after {timeout:g} s") from None
        except (http.client.HTTPException, OSError) as exc:
            raise CheckError(
                f"{display_url(url)} failed mid-answer: {exc.__class__.__name__}"
            ) from None
        return response.status, response.headers, b"".join(chunks)


def parse_json(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise CheckError(f"{display_url(url)} did not answer JSON") from None
