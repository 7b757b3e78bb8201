"""Remove secrets (and, unless allowed, personal data) from nested data before it leaves.

Works on plain JSON-like data: dicts, lists, tuples and strings. A key is secret
when, lower-cased with "-" read as "_", it contains one of SECRET_KEY_PARTS, so
"Authorization", "X-Api-Key", "HTTP_COOKIE" and "new_password" all match.
Strings are searched for `name=value` pairs (query strings, form bodies, the
repr of a Django request) whose name is secret and, unless personal data is
allowed, for e-mail addresses (a task argument or a local variable holding one).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .redaction import EMAIL_ADDRESS

FILTERED = "[Filtered]"
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "dsn",
    "session",
    "csrf",
    "xsrf",
    "auth",  # authorization, proxy_authorization, auth_header, ...
    "cookie",
    "credential",
    "signature",
)
PII_KEYS = frozenset(
    {
        "email",
        "e_mail",
        "username",
        "ip_address",
        "remote_addr",
        "http_x_forwarded_for",
        "x_forwarded_for",
        "http_x_real_ip",
        "x_real_ip",
    }
)
# name=value inside a longer string; the value stops at a separator or a quote.
_PAIR_RE = re.compile(r"(?P<name>[A-Za-z0-9_.\-\[\]]+)=(?P<value>[^&;\s'\"<>]*)")


_SECRET_RE = re.compile("|".join(map(re.escape, SECRET_KEY_PARTS)))


def normalise_key(key: str) -> str:
    return key.lower().replace("-", "_")


# Cached: the same header, variable and field names come back in every event.
@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    return _SECRET_RE.search(normalise_key(key)) is not None


@lru_cache(maxsize=4096)
def is_pii_key(key: str) -> bool:
    return normalise_key(key) in PII_KEYS


class Scrubber:
    """Replace secret values with FILTERED; personal data too unless `allow_pii`."""

    def __init__(self, *, allow_pii: bool) -> None:
        self.allow_pii = allow_pii

    def is_sensitive(self, key: str) -> bool:
        return is_secret_key(key) or (not self.allow_pii and is_pii_key(key))

    def scrub(self, value: Any) -> Any:
        """Return `value` with sensitive parts replaced; dicts and lists are changed in place."""
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and self.is_sensitive(key):
                    value[key] = FILTERED
                else:
                    value[key] = self.scrub(item)
            return value
        if isinstance(value, list | tuple):
            # [name, value] pairs are how WSGI servers and some SDK fields carry headers.
            if len(value) == 2 and isinstance(value[0], str) and self.is_sensitive(value[0]):
                return type(value)((value[0], FILTERED))
            items = [self.scrub(item) for item in value]
            if isinstance(value, list):
                value[:] = items
                return value
            return tuple(items)
        if isinstance(value, str):
            if "=" in value:
                value = self.scrub_pairs(value)
            if "@" in value and not self.allow_pii:
                value = EMAIL_ADDRESS.sub(FILTERED, value)
        return value

    def scrub_pairs(self, text: str) -> str:
        """Filter the values of secret `name=value` pairs in a query string or any text."""

        def replace(match: re.Match[str]) -> str:
            if self.is_sensitive(match["name"]) and match["value"]:
                return f"{match['name']}={FILTERED}"
            return match[0]

        return _PAIR_RE.sub(replace, text)
