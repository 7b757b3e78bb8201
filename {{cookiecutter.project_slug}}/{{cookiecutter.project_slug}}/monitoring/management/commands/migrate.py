"""Django's `migrate`, its progress written as log lines when LOG_FORMAT is json.

Django's command prints plain text ("Applying orders.0001_initial... OK") to stdout,
which in production is the log stream a shipper reads as one JSON object per line.
Under LOG_FORMAT=json each line it prints goes to the `django.db.migrations.progress`
logger instead (INFO), in the JSON shape of every other line; errors still raise as
they do. Any other format keeps Django's own output.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate

logger = logging.getLogger("django.db.migrations.progress")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class LineLogger(io.TextIOBase):
    """A text stream that logs each complete line it is given (migrate writes a line in
    parts: "  Applying x..." first, " OK" once done)."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self.target = target
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            if message := ANSI_ESCAPE.sub("", line).strip():
                self.target.info(message)
        return len(text)

    def finish(self) -> None:
        """Log what is left of a last line. (flush() does not: migrate flushes mid-line.)"""
        if self.pending:
            self.write("\n")


class Command(DjangoMigrate):
    def execute(self, *args: Any, **options: Any) -> str | None:
        if settings.LOG_FORMAT == "json" and not options.get("stdout"):
            stream = LineLogger(logger)
            options = {**options, "stdout": stream, "no_color": True}
            try:
                return super().execute(*args, **options)
            finally:
                stream.finish()
        return super().execute(*args, **options)
