"""The one place that relies on how structlog keeps its context-local keys.

structlog.contextvars keeps each bound key in a ContextVar of its own, named
`structlog_<key>` (its STRUCTLOG_KEY_PREFIX), and clears a key by setting it to
Ellipsis, since a ContextVar can't be removed from a context. Its
merge_contextvars and clear_contextvars find the keys by walking the whole context
and testing every variable's name with startswith, Django's, asgiref's and an
SDK's included; every request walked it twice (its access line, the clear at its
end) and bound its ids through bind_contextvars' generic path. Each id a request
binds made all three dearer (issue 19's trace id: BENCHMARKS.md, "Trace ids in the
access line"). The functions below do the same work for less:

- structlog_var(key): the ContextVar structlog binds *key* in (bind_contextvars'
  token names it, a public attribute), to set it directly;
- bound_context(): the keys bound now, as merge_contextvars would merge them into
  an empty event (same keys, same values, same order);
- clear_bound(): what clear_contextvars does, setting only the variables that hold
  a value.

Both walks remember which variables are structlog's, so a variable's name is read
and tested once per process, not once per line.

Written against structlog 26.1; 24.4, the oldest this project allows, keeps its keys
the same way. If structlog renames its variables or marks cleared keys otherwise,
these functions would miss keys or keep cleared ones: the test
`test_structlog_context_helpers_agree_with_structlog` (tests/test_logging.py) fails
when that happens: fix this module, nothing else relies on it.
"""

from __future__ import annotations

from contextvars import ContextVar, copy_context
from typing import Any

from structlog.contextvars import STRUCTLOG_KEY_PREFIX, bind_contextvars, reset_contextvars

_PREFIX_LENGTH = len(STRUCTLOG_KEY_PREFIX)
# Variable -> its structlog key, or None for another library's variable. Bounded: a
# library that made a variable per request would otherwise grow it for ever.
_KEYS: dict[ContextVar[Any], str | None] = {}
_KEYS_LIMIT = 1024
_UNKNOWN = "\0unknown"  # no structlog key: keys are keyword argument names


def structlog_var(key: str) -> ContextVar[Any]:
    """The ContextVar that structlog's bind_contextvars(key=...) sets."""
    tokens = bind_contextvars(**{key: ...})
    reset_contextvars(**tokens)
    return tokens[key].var


def _learn(var: ContextVar[Any]) -> str | None:
    name = var.name
    key = name[_PREFIX_LENGTH:] if name.startswith(STRUCTLOG_KEY_PREFIX) else None
    if len(_KEYS) >= _KEYS_LIMIT:
        _KEYS.clear()
    _KEYS[var] = key
    return key


def bound_context() -> dict[str, Any]:
    """The keys bound in structlog's context variables right now, in context order."""
    bound: dict[str, Any] = {}
    for var, value in copy_context().items():
        if value is not Ellipsis:
            key = _KEYS.get(var, _UNKNOWN)
            if key is _UNKNOWN:
                key = _learn(var)
            if key is not None and key not in bound:
                bound[key] = value
    return bound


def clear_bound() -> None:
    """Unbind every key bound in structlog's context variables (clear_contextvars)."""
    for var, value in copy_context().items():
        if value is not Ellipsis:
            key = _KEYS.get(var, _UNKNOWN)
            if key is _UNKNOWN:
                key = _learn(var)
            if key is not None:
                var.set(Ellipsis)
