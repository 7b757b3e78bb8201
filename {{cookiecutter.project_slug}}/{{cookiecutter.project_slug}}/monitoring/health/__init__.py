"""Health probes: /health/live/, /health/ready/, /health/ and /health/db/ (docs/health.md).

A check is a function ``check(seconds_left: float) -> Result`` listed in HEALTH_CHECKS;
it gets the seconds left before the overall deadline and returns ``ok()``, ``warning()``
or ``error()``. An exception counts as an error whose text goes to the log, never the body.
"""

from .result import Result, error, ok, warning

__all__ = ["Result", "error", "ok", "warning"]
