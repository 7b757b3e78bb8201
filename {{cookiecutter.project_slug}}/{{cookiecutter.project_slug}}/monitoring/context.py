"""Correlation ids of the current request or task.

They live in structlog's context variables, so every log line written while
handling a request or running a task carries them, whoever writes it
(structlog or plain `logging`). The middleware and the Celery signal receivers
bind them, then call context_bound(); everything else reads them from here, or
subscribes to on_context_bound to copy them elsewhere once per request or task.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from structlog.contextvars import get_contextvars

REQUEST_ID_KEY = "request_id"
TASK_ID_KEY = "task_id"
TASK_NAME_KEY = "task_name"
TRACE_ID_KEY = "trace_id"
SPAN_ID_KEY = "span_id"

# An incoming id is kept only when it is short and made of safe characters, so
# it can't forge log lines, inject headers or carry markup.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
# W3C Trace Context `traceparent`: version-trace_id-parent_id-flags, lowercase hex;
# all-zero ids are invalid, and version ff is forbidden.
TRACEPARENT_PATTERN = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
# What nearly every caller sends: version 00, exactly, neither id all zeros. One
# fullmatch answers it; anything else takes the general path.
_TRACEPARENT_00 = re.compile(r"00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16

# Called with current_context() right after a request's or a task's ids are bound,
# by integrations that copy them elsewhere (an error tracker's scope, for one).
on_context_bound: list[Callable[[dict[str, str]], None]] = []

# Version 4 / RFC 4122 variant bits of a uuid4, as in uuid.UUID(version=4).
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def valid_request_id(value: object) -> str | None:
    """*value* when it is an acceptable request id, else None."""
    if isinstance(value, str) and REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    """A random uuid4 hex (32 characters).

    From `random` rather than uuid.uuid4()'s os.urandom(): a request id needs to be
    unique, not unguessable, and the system call releases the GIL, which costs a
    thread switch whenever a background thread (an SDK's sender) is busy. `random`
    reseeds itself in forked workers.
    """
    return f"{(random.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"


def trace_id_from_traceparent(value: object) -> str | None:
    """The trace id of a valid W3C `traceparent` header, else None.

    Version 00 must be exactly four fields; a later version may add fields after
    them (the spec's forward compatibility), so only the prefix is matched.
    """
    if not isinstance(value, str):
        return None
    common = _TRACEPARENT_00.fullmatch(value)
    if common is not None:
        return common[1]
    match = TRACEPARENT_PATTERN.match(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id = match.groups()
    rest = value.strip()[match.end() :]
    if version == "ff" or (version == "00" and rest) or (rest and not rest.startswith("-")):
        return None
    if trace_id == _INVALID_TRACE_ID or parent_id == _INVALID_SPAN_ID:
        return None
    return trace_id


def new_trace_id() -> str:
    """A new random trace id (32 hex, never all zeros)."""
    return f"{random.getrandbits(128) or 1:032x}"


def trace_id_or_new(traceparent: object) -> str:
    """The trace id of *traceparent* when valid, else a new random one (32 hex)."""
    return trace_id_from_traceparent(traceparent) or new_trace_id()


def traceparent_for(trace_id: str) -> str:
    """A `traceparent` continuing *trace_id* from a new parent id (sampled flag set)."""
    return f"00-{trace_id}-{random.getrandbits(64) or 1:016x}-01"


def current_trace_id() -> str | None:
    return get_contextvars().get(TRACE_ID_KEY)


def current_request_id() -> str | None:
    return get_contextvars().get(REQUEST_ID_KEY)


def current_context() -> dict[str, str]:
    """request_id / task_id / task_name that are bound right now (for tags)."""
    bound = get_contextvars()
    return {key: bound[key] for key in (REQUEST_ID_KEY, TASK_ID_KEY, TASK_NAME_KEY) if key in bound}


def context_bound() -> None:
    """Hand the ids just bound to every on_context_bound hook (requests and tasks alike)."""
    if on_context_bound:
        bound = current_context()
        for hook in on_context_bound:
            hook(bound)
