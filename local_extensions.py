"""Jinja extensions cookiecutter loads from this template (`_extensions` in cookiecutter.json).

They run inside the cookiecutter process. The hooks run in child processes, after
cookiecutter has moved into the template folder, so they cannot see from there
where cookiecutter was run, nor change what cookiecutter prints when they fail.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_DIR = Path(__file__).resolve().parent


def shown_path(path: str, invoked_from: Path) -> str:
    """`path` as typed in the folder cookiecutter ran in: relative below it, else absolute.

    "" (no folder known) stays "": cruft calls cookiecutter's generate_files itself,
    which sets no _output_dir, and the hooks render `_output_dir | default("")`.
    """
    if not path:
        return ""
    absolute = Path(os.path.abspath(path))
    if absolute.is_relative_to(invoked_from):
        return os.path.relpath(absolute, invoked_from)
    return str(absolute)


class InvocationDir(Extension):
    """The `from_invocation_dir` filter: a path as the user types it where cookiecutter ran."""

    # cookiecutter makes its environments in the folder it was run in, except the
    # ones for the hooks, made after it moved into the template folder: the last
    # folder other than that one is where it ran. (Run from the template folder
    # itself, that is the answer too; a process that renders again from there after
    # rendering elsewhere, through the API, is shown paths from that earlier folder.)
    invoked_from = TEMPLATE_DIR

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        cwd = Path.cwd()
        if cwd != TEMPLATE_DIR:
            InvocationDir.invoked_from = cwd
        environment.filters["from_invocation_dir"] = self.from_invocation_dir

    @staticmethod
    def from_invocation_dir(path: str) -> str:
        return shown_path(path, InvocationDir.invoked_from)


class WithoutHookTraceback(logging.Filter):
    """Drops cookiecutter's log record of a failed hook.

    The record carries a traceback of cookiecutter's own code, printed under the
    sentences our hook wrote (the command then prints "Hook script failed" plainly).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], FailedHookException))


class QuietHookFailure(Extension):
    """Installs WithoutHookTraceback on cookiecutter's hooks logger, once per process."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        logger = logging.getLogger("cookiecutter.hooks")
        if not any(isinstance(f, WithoutHookTraceback) for f in logger.filters):
            logger.addFilter(WithoutHookTraceback())
