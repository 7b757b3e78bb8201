"""The Nagios plugin conventions every check of scripts/monitor.py follows.

A check returns a Result, whose code is one of OK, WARNING, CRITICAL, UNKNOWN, or
raises CheckError when it cannot run (reported as UNKNOWN); number() checks the
numbers given as options. Standard library only, as monitor.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


class CheckError(Exception):
    """The check could not run: reported as UNKNOWN."""


@dataclass
class Result:
    check: str
    code: int
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    perfdata: str = ""


@dataclass(frozen=True)
class Check:
    """One --check choice: what runs it, its own options, the variables never printed."""

    run: Callable[[argparse.Namespace], Result]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    secret_variables: tuple[str, ...] = ()


def number(kind: type, minimum: float) -> Any:
    """An argparse type: a number of `kind`, at least `minimum` (and sane)."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not minimum <= value < 1e6:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}: {text!r}")
        return value

    return convert
