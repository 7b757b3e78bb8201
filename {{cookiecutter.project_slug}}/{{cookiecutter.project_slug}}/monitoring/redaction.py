"""Remove secrets (and, unless allowed, personal data) from anything that leaves the process.

{% if cookiecutter.use_sentry == "y" -%}
One set of rules for log lines (logs.py) and Sentry events (sentry/):
{%- else -%}
The rules for log lines (logs.py):
{%- endif %}

- a key is secret when, lower-cased with "-" read as "_", it contains one of
  SECRET_KEY_PARTS ("Authorization", "X-Api-Key", "HTTP_COOKIE", "new_password")
  or is one of SECRET_KEY_NAMES (`?key=...`, as many APIs name theirs);
  its value is replaced at any depth of dicts, lists and tuples, and so is the
  value of a `[name, value]` pair (how WSGI servers and SDKs carry headers);
- in free text, the values of `name=value` / `name: value` / `"name": "value"`
  pairs with a secret name (query strings, form bodies, reprs), `Bearer ...`
  credentials, `user:password@` and key-like user names (a DSN's) in URLs are
  replaced; the value of a pair with a harmless name is searched in turn
  (`url: /?token=x`, `Name: password=x`, `Invalid: 'token'='x'`), and so are
  quoted, escaped and twice-escaped pairs (`\\"token\\": \\"x\\"` in a repr);
- text holding `%` or `+` is read URL-decoded too (`next=%2F%3Ftoken%3Dx`,
  `pass%77ord=x`, `4111+1111+...`), and given decoded when that hides more;
- configured secrets (`secret_values`: a webhook URL that is its own credential)
  are replaced wherever they appear, under any key or none;
- payment card numbers (13 to 19 digits, spaces or dashes between them, that pass
  the Luhn check), in text and as integers: never allowed;
- URL paths matching a MASKED_URL_PATHS template (Django's style: `/reset/<uidb64>/<token>/`,
  the password-reset link) have their `<name>` segments replaced, wherever they appear;
- personal data too unless `allow_pii`: values of PII_KEYS (email, username,
  ip_address, forwarded-for headers) and e-mail addresses in free text, written
  plainly or URL-encoded (`jane%40example.org`, as query strings carry them).

Logs never allow personal data{% if cookiecutter.use_sentry == "y" %}; Sentry follows SENTRY_SEND_DEFAULT_PII{% endif %}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

FILTERED = "[Filtered]"
MIN_SECRET_LENGTH = 8

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
# Secret as whole names only: as parts they would match "monkey", "primary_key", ...
# A local variable named `key` is masked in error reports too: the price of the rule.
SECRET_KEY_NAMES = frozenset({"key"})
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
# "auth" is a secret unless it starts "author" (author, authored_by, authority), except
# "authoriz"/"authoris" (authorization).
_SECRET_RE = re.compile(
    "|".join(
        r"auth(?!or(?!i[sz]))" if part == "auth" else re.escape(part) for part in SECRET_KEY_PARTS
    )
)
# `password=hunter2`, `"token": "abc"`, `Authorization: Bearer abc`, `api_key='x'`: the
# name, its separator, an authorization scheme kept out of the value, the value.
# JSON inside a JSON string escapes its quotes (`\"password\": \"x\"`), a repr escapes
# the quotes of its text (`ValueError('\'token\'=\'x\'')`), a repr of such JSON escapes
# them twice (`\\"token\\": \\"x\\"`): an escaped value runs to the same escaped quote.
# A quoted value runs to its closing quote, past escaped ones (`"a\"b c"`), or to
# the first blank when it has none (a repr cut short: `'password': 'hunt...`).
# A name starts where a word does: tried at every letter of a long word (a base64
# blob), the search took quadratic time (2,000 letters: 120 ms).
_PAIR_RE = re.compile(
    r"(?<![\w.\-\[\]])(?P<name>[\w.\-\[\]]+)(?P<separator>\\*[\"']?\s*[:=]\s*)"
    r"(?P<scheme>(?:bearer|basic|token)\s+)?"
    r"(?P<value>(?P<escape>\\+)(?P<quote>[\"'])(?:(?!(?P=escape)(?P=quote))[\s\S])*"
    r"(?P=escape)(?P=quote)"
    r"|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
    r"|[^\s&,;\"'<>\]\)]+|[\"'][^\s\"']+)",
    re.IGNORECASE,
)
# 13 to 19 digits, single spaces or dashes between them; the Luhn check decides.
# Never part of a decimal: a float's 16 digits of fraction ("in 2.0030687379985466s")
# pass the check one time in ten.
_CARD_RE = re.compile(r"(?<![\d-])(?<!\d\.)\d(?:[ -]?\d){12,18}(?![\d-]|\.\d)")
_EMAIL_RE = re.compile(r"(?<![\w.%+-])[\w.%+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# `postgres://user:PW@`, `redis://:PW@` (to the authority's last `@`: a raw `@` in a
# password is common); and a user name long enough to be a key
# (an error tracker DSN's `https://<32 hex>@`), where a real user name is short.
_URL_PASSWORD_RE = re.compile(r"(://[^/\s:@]*:)[^/\s?#]+@")
_URL_KEY_USER_RE = re.compile(r"(://)[^/\s:@]{16,}@")

# Paths whose <name> segments are secrets, written as Django URL patterns; the setting
# MASKED_URL_PATHS replaces them (mask_url_paths). Django's password-reset link carries
# a token that logs in whoever holds it; its next step (/reset/<uidb64>/set-password/)
# is masked as well.
DEFAULT_MASKED_URL_PATHS = ("/reset/<uidb64>/<token>/",)
_SEGMENT_RE = re.compile(r"<\w+>")
# A segment is what a path segment can be in any text; a route's own `<token>` or
# `{token}` (how error trackers name transactions) is left as it is.
_SEGMENT_VALUE = r"[^/?#\s'\"<>{}]+"


def compile_masked_url_path(template: str) -> tuple[str, re.Pattern[str], str]:
    """(literal checked first, pattern, replacement) for one path template."""
    literals = _SEGMENT_RE.split(template)
    pattern = _SEGMENT_VALUE.join(f"({re.escape(literal)})" for literal in literals)
    replacement = FILTERED.join(f"\\g<{group}>" for group in range(1, len(literals) + 1))
    return literals[0], re.compile(pattern), replacement


_masked_url_paths = tuple(compile_masked_url_path(path) for path in DEFAULT_MASKED_URL_PATHS)


def mask_url_paths(templates: tuple[str, ...] | list[str]) -> None:
    """Mask the <name> segments of these paths from now on, for every Redactor."""
    global _masked_url_paths
    _masked_url_paths = tuple(compile_masked_url_path(path) for path in templates if path)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = match[0].replace(" ", "").replace("-", "")
    return FILTERED if luhn_valid(digits) else match[0]


def normalise_key(key: str) -> str:
    return key.lower().replace("-", "_")


# Cached: the same header, variable and field names come back in every line and event.
@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    name = normalise_key(key)
    return name in SECRET_KEY_NAMES or _SECRET_RE.search(name) is not None


@lru_cache(maxsize=4096)
def is_pii_key(key: str) -> bool:
    return normalise_key(key) in PII_KEYS


class Redactor:
    """Return copies of values with secret values replaced; personal data too unless allowed."""

    def __init__(self, *, allow_pii: bool = False, secret_values: tuple[str, ...] = ()) -> None:
        self.allow_pii = allow_pii
        self.set_secret_values(secret_values)

    def set_secret_values(self, secret_values: tuple[str, ...]) -> None:
        # Longest first, so a secret that contains another is masked whole; a value too
        # short to tell apart from ordinary text is left to the other rules.
        long_enough = (value for value in secret_values if len(value) >= MIN_SECRET_LENGTH)
        self.secret_values = tuple(sorted(long_enough, key=len, reverse=True))

    def is_sensitive(self, key: str) -> bool:
        return is_secret_key(key) or (not self.allow_pii and is_pii_key(key))

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                key: FILTERED if isinstance(key, str) and self.is_sensitive(key) else self(item)
                for key, item in value.items()
            }
        if isinstance(value, int) and 10**12 <= value < 10**19 and luhn_valid(str(value)):
            return FILTERED  # a card number passed as a number (bool is an int < 10**12)
        if isinstance(value, list | tuple):
            items: Iterable[Any]
            if len(value) == 2 and isinstance(value[0], str) and self.is_sensitive(value[0]):
                items = (value[0], FILTERED)
            else:
                items = (self(item) for item in value)
            return type(value)(items)
        return value

    def text(self, text: str) -> str:
        """Replace inline credentials (and e-mail addresses unless allowed) in free text."""
        redacted = self._text(text)
        # Query strings and form bodies encode names and separators too: a URL in a
        # query (`next=%2F%3Ftoken%3Dabc`), `pass%77ord=x`, `4111+1111+1111+1111`.
        # Read decoded as well, and give the decoded form only if it hides more.
        if "%" in redacted or "+" in redacted:
            decoded = unquote_plus(redacted)
            if decoded != redacted:
                decoded_redacted = self._text(decoded)
                if decoded_redacted != decoded:
                    return decoded_redacted
        return redacted

    def _text(self, text: str) -> str:
        for literal, pattern, replacement in _masked_url_paths:
            if literal in text:
                text = pattern.sub(replacement, text)
        for secret in self.secret_values:
            if secret in text:
                text = text.replace(secret, FILTERED)
        if "@" in text:
            text = _URL_PASSWORD_RE.sub(rf"\1{FILTERED}@", text)
            text = _URL_KEY_USER_RE.sub(rf"\1{FILTERED}@", text)
        if "=" in text or ":" in text:
            text = self._pairs(text)
        text = _CARD_RE.sub(_mask_card, text)
        # After the pairs: `email=a@b.c` is one masked pair, not "[Filtered]" masked again.
        if not self.allow_pii and ("@" in text or "%40" in text):
            text = _EMAIL_RE.sub(FILTERED, text)
        return text

    def _pairs(self, text: str) -> str:
        """Mask the values of sensitive pairs; read a harmless pair's value as text again.

        A harmless name's value may start pairs of its own: `Name: password=x`,
        `http://host/?token=x` (read as the pair "http"), `Invalid: 'token'='x'`. So the
        search resumes where that value starts, not where it ends.
        """
        pieces: list[str] = []
        copied = position = 0
        while (match := _PAIR_RE.search(text, position)) is not None:
            value_start = match.start("value")
            if text.startswith(FILTERED, value_start):  # masked already (the decoded pass)
                position = value_start + len(FILTERED)
                continue
            if match["value"] in ('""', "''") or not self.is_sensitive(match["name"]):
                position = value_start
                continue
            pieces += (text[copied:value_start], FILTERED)
            copied = position = match.end()
        if not pieces:
            return text
        pieces.append(text[copied:])
        return "".join(pieces)


# Log lines: secrets and personal data, always (MonitoringConfig.ready() adds the
# values of settings.REDACTED_SETTINGS).
redact = Redactor(allow_pii=False)


def secret_setting_values() -> tuple[str, ...]:
    """The values of settings.REDACTED_SETTINGS that are set."""
    from django.conf import settings

    values = (getattr(settings, name, "") or "" for name in settings.REDACTED_SETTINGS)
    return tuple(str(value) for value in values if value)
