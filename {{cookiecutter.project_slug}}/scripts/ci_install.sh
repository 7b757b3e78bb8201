#!/bin/sh
# CI's install: exactly what requirements.lock pins when the repository has one
# (`make lock`), else the newest versions pyproject.toml allows.
set -eu
if [ -f requirements.lock ]; then
    pip install --require-hashes -r requirements.lock
    pip install --no-deps -e .
else
    pip install -e ".[dev]"
fi
