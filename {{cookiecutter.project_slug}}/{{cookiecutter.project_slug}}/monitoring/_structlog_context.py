"""The one place that relies on how structlog keeps its context-local keys.

structlog.contextvars keeps each bound key in a ContextVar of its own, named
`structlog_<key>`, made on the key's first bind and kept in a module dict,
`_CONTEXT_VARS` (private), and clears a key by setting it to Ellipsis, since a
ContextVar can't be removed from a context. Its merge_contextvars and
clear_contextvars find the keys by walking the whole context and testing every
variable's name, Django's, asgiref's and an SDK's included; every request walked it
twice (its access line, the clear at its end) and bound its ids through
bind_contextvars' generic path, and each id bound made all three dearer (issue 19's
trace id: BENCHMARKS.md, "Trace ids in the access line"). The functions below do the
same work for less, reading structlog's variables from its dict rather than finding
them in the context:

- structlog_var(key): the ContextVar structlog binds *key* in, to set it directly;
- bound_context(): the keys bound now, as merge_contextvars merges them into an empty
  event (the same keys and values; in the order structlog first bound them, where
  merge_contextvars follows the context's internal order);
- clear_bound(): clear_contextvars, setting only the variables that hold a value.

Written against structlog 26.1; 24.4, the oldest this project allows, keeps its keys
the same way. If structlog renames the dict, stops filling it or marks cleared keys
otherwise, these functions would fail or miss keys: the test
`test_structlog_context_helpers_agree_with_structlog` (tests/test_logging.py) fails
when that happens: fix this module, nothing else relies on it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from structlog import contextvars as _structlog_contextvars
from structlog.contextvars import STRUCTLOG_KEY_PREFIX, bind_contextvars, reset_contextvars

_REGISTRY: dict[str, ContextVar[Any]] = _structlog_contextvars._CONTEXT_VARS
_PREFIX_LENGTH = len(STRUCTLOG_KEY_PREFIX)
# (key, variable) of every key structlog has made a variable for. structlog only ever
# adds to its dict, so a length that differs means new keys. Copied with tuple(), in C
# under the GIL: iterating the dict itself would fail when another thread binds a new
# key meanwhile (gthread workers, Celery threads).
_variables: tuple[tuple[str, ContextVar[Any]], ...] = ()


def structlog_var(key: str) -> ContextVar[Any]:
    """The ContextVar that structlog's bind_contextvars(key=...) sets."""
    tokens = bind_contextvars(**{key: ...})
    reset_contextvars(**tokens)
    return tokens[key].var


def _known_variables() -> tuple[tuple[str, ContextVar[Any]], ...]:
    """Every (key, variable) structlog has, read again only when it has made new ones."""
    global _variables
    if len(_variables) != len(_REGISTRY):
        _variables = tuple((name[_PREFIX_LENGTH:], var) for name, var in tuple(_REGISTRY.items()))
    return _variables


def bound_context() -> dict[str, Any]:
    """The keys bound in structlog's context variables right now."""
    bound: dict[str, Any] = {}
    for key, var in _known_variables():
        value = var.get()
        if value is not Ellipsis:
            bound[key] = value
    return bound


def clear_bound() -> None:
    """Unbind every key bound in structlog's context variables (clear_contextvars)."""
    for _, var in _known_variables():
        if var.get() is not Ellipsis:
            var.set(Ellipsis)
