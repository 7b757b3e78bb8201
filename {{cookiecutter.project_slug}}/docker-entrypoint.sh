#!/bin/sh
# Container entry point. Migrations run only when asked (DJANGO_MIGRATE_ON_START=1), so
# that many replicas starting together don't race; prefer a one-off migrate job. Quietly
# (-v 0): the container's stdout carries JSON log lines only; errors still go to stderr.
set -eu
if [ "${DJANGO_MIGRATE_ON_START:-0}" = "1" ]; then
    python manage.py migrate --noinput -v 0
fi
exec "$@"
