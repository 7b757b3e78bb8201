"""Sentry alert rules and monitors as code: spec (the file) -> desired -> plan -> apply."""
