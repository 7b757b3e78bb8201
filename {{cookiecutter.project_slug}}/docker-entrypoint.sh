#!/bin/sh
# Container entry point. Migrations run only when asked (DJANGO_MIGRATE_ON_START=1), so
# that many replicas starting together don't race; prefer a one-off migrate job. Its
# progress comes as JSON log lines, as every other line of the container's stdout
# (monitoring/management/commands/migrate.py).
set -eu
if [ "${DJANGO_MIGRATE_ON_START:-0}" = "1" ]; then
    python manage.py migrate --noinput
fi
exec "$@"
