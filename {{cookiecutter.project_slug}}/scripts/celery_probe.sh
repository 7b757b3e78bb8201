#!/bin/sh
# Liveness and readiness probes of the Celery worker and beat, from their files:
#
#   sh scripts/celery_probe.sh worker-alive [MAX_AGE]   the consumer's loop runs
#   sh scripts/celery_probe.sh worker-ready [MAX_AGE]   ... and it consumes its queues
#   sh scripts/celery_probe.sh beat-alive [MAX_AGE]     beat's scheduler ticks
#
# Exit 0 when healthy, 1 with one sentence on stderr when not, 2 on a bad command line.
# The processes keep the files fresh in CELERY_PROBE_DIR
# ({{ cookiecutter.project_slug }}/monitoring/celery_probes.py). A probe runs often, in a
# fresh process each time: this one is POSIX sh with `id`, `date` and `stat`, a few ms of
# CPU, where a Python probe pays ~20 ms to start the interpreter and `celery inspect ping`
# over a second to start Django and ask the broker. A broker outage fails worker-ready,
# never worker-alive: restarting workers cannot bring a broker back.
set -u

usage() {
    echo "usage: celery_probe.sh worker-alive | worker-ready | beat-alive [MAX_AGE_SECONDS]" >&2
    exit 2
}

# Default maximum ages: the worker touches worker.alive every CELERY_PROBE_INTERVAL (5 s),
# beat ticks at least every CELERY_BEAT_MAX_LOOP_INTERVAL (10 s).
case "${1:-}" in
    worker-alive) fresh=worker.alive ready='' max_age=30 process=worker ;;
    worker-ready) fresh=worker.alive ready=worker.ready max_age=30 process=worker ;;
    beat-alive) fresh=beat.alive ready='' max_age=60 process=beat ;;
    *) usage ;;
esac
if [ $# -eq 2 ]; then
    case "$2" in
        '' | *[!0-9]*) usage ;;
        *) max_age=$2 ;;
    esac
elif [ $# -ne 1 ]; then
    usage
fi

# settings.CELERY_PROBE_DIR's default: tempfile.gettempdir()'s usual answer, one per user.
dir=${CELERY_PROBE_DIR:-${TMPDIR:-${TEMP:-${TMP:-/tmp}}}/celery-probes-$(id -u)}

if ! modified=$(stat -c %Y "$dir/$fresh" 2>/dev/null); then
    echo "$1: no $dir/$fresh: the $process has not started, or stopped" >&2
    exit 1
fi
age=$(($(date +%s) - modified))
if [ "$age" -gt "$max_age" ]; then
    echo "$1: $dir/$fresh is $age s old (limit $max_age s): the $process is stuck" >&2
    exit 1
fi
if [ -n "$ready" ] && [ ! -e "$dir/$ready" ]; then
    echo "$1: the $process is not consuming: no connection to the broker yet, or lost" >&2
    exit 1
fi
exit 0
