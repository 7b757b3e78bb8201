"""What a check answers: a status and a short message that is safe to show."""

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warning", "error"]
SEVERITY: dict[Status, int] = {"ok": 0, "warning": 1, "error": 2}


@dataclass(frozen=True, slots=True)
class Result:
    status: Status
    # Shown to callers allowed to see details: never hosts, ports, credentials or exception text.
    message: str = ""


def ok(message: str = "") -> Result:
    return Result("ok", message)


def warning(message: str) -> Result:
    return Result("warning", message)


def error(message: str) -> Result:
    return Result("error", message)
