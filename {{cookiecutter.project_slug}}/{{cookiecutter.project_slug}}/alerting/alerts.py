"""What an alert is, whatever its source: a title, a severity, links, and ids.

The webhook receiver makes them of Sentry's payloads (payloads.py), the channels
deliver them (channels.py), the tasks carry them as plain dicts (tasks.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

TITLE_MAX = 300
FINGERPRINT_MAX = 255  # PagerDuty's dedup_key limit


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"
    RESOLVED = "resolved"


def one_line(value: str, limit: int) -> str:
    """`value` on one line (whitespace runs become one space), cut to `limit` characters."""
    text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _web_url(value: str) -> str:
    """Keep http(s) links only: a `javascript:` URL must not reach a chat message."""
    return value if urlsplit(value).scheme in ("http", "https") else ""


@dataclass(frozen=True)
class Alert:
    """One alert, whatever its source. Values are cleaned on creation.

    `id` is unique per alert (the receiver uses the digest of the webhook body):
    it keeps a channel from getting the same alert twice. `fingerprint` is stable
    per problem: PagerDuty's dedup_key, so a "resolved" alert closes the incident
    its "critical" twin opened.
    """

    id: str
    title: str
    severity: Severity
    url: str = ""
    project: str = ""
    environment: str = ""
    fingerprint: str = ""

    def __post_init__(self) -> None:
        clean = {
            "id": one_line(self.id, 128),
            "title": one_line(self.title, TITLE_MAX) or "(no title)",
            "severity": Severity(self.severity),
            "url": _web_url(self.url.strip()),
            "project": one_line(self.project, 100),
            "environment": one_line(self.environment, 64),
            "fingerprint": one_line(self.fingerprint or self.id, FINGERPRINT_MAX),
        }
        for name, value in clean.items():
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Alert:
        # Any: `severity` arrives as text; __post_init__ makes it a Severity (or refuses it).
        fields: dict[str, Any] = {
            name: str(data.get(name, "")) for name in cls.__dataclass_fields__
        }
        return cls(**fields)
