"""Remove secrets and personal data from anything that leaves the process.

A key that looks like a secret (password, token, api_key, authorization, cookie,
dsn, ...) has its value replaced, at any depth of dicts, lists and tuples. In
free text, e-mail addresses, `key=value` / `"key": "value"` pairs of secret keys,
`Bearer ...` credentials and `user:password@` in URLs are replaced too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

FILTERED = "[Filtered]"

SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "cookie",
    "csrf",
    "session",
    "dsn",
    "private_key",
    "credential",
)
_SECRET_WORDS = "|".join(re.escape(part) for part in SECRET_KEY_PARTS)
# `password=hunter2`, `"token": "abc"`, `Authorization: Bearer abc`, `api_key='x'`
_SECRET_PAIR = re.compile(
    r"((?:" + _SECRET_WORDS + r")[\w-]*[\"']?\s*[:=]\s*)"  # the key and its separator
    r"(?:(?:bearer|basic|token)\s+)?"  # an authorization scheme is kept out of the value
    r"(\"[^\"]*\"|'[^']*'|[^\s&,;\"'\]\)]+)",  # the value, quoted or bare
    re.IGNORECASE,
)
EMAIL_ADDRESS = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")


@lru_cache(maxsize=1024)
def is_secret_key(key: str) -> bool:
    """True for keys such as `password`, `HTTP_AUTHORIZATION`, `X-Api-Key`, `database_dsn`."""
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def redact_text(text: str) -> str:
    """Replace e-mail addresses and inline credentials in free text."""
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\1{FILTERED}@", text)
        text = EMAIL_ADDRESS.sub(FILTERED, text)
    if "=" in text or ":" in text:
        text = _SECRET_PAIR.sub(rf"\1{FILTERED}", text)
    return text


def redact(value: Any) -> Any:
    """A copy of *value* with secret keys and sensitive text replaced."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: FILTERED if isinstance(key, str) and is_secret_key(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    return value
