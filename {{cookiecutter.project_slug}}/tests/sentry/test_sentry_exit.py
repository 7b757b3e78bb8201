"""A process that exits with events still unsent says so in one JSON log line."""

import json
import textwrap

from ..conftest import clean_env, run_python
from ..support.live_server import hanging_server

# Three events for an ingest server that never answers: the first one is in flight,
# the others are pending when the process exits.
SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    import sentry_sdk
    for number in range(3):
        sentry_sdk.capture_message(f"unsent {number}")
    """
)


def test_pending_events_at_exit_are_a_json_line_not_a_print():
    with hanging_server() as port:
        env = clean_env(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            SENTRY_DSN=f"http://0123456789abcdef0123456789abcdef@127.0.0.1:{port}/1",
            LOG_FORMAT="json",
        )
        result = run_python("-c", SCRIPT, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert not [line for line in lines if not line.startswith("{")], lines
    [notice] = [json.loads(line) for line in lines if "pending events" in line]
    assert notice["level"] == "warning"
    assert notice["message"].startswith("Sentry: sending ")
    assert notice["pending_events"] >= 1
