"""A session that needs PostgreSQL and Redis checks them first, before any slow work.

Run here as nested pytest sessions pointed at closed ports: no service is needed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from ports import free_port

from . import services
from .conftest import REPO_DIR

# Generous: collection and (with xdist) two workers starting, on a busy machine (20 s was
# once exceeded with both render suites and three other sessions' runs beside it). What
# "at once" means is checked by the exit status and output: no test ran.
QUICK = 60.0
FAST_SELECTION = ["-m", "not slow and not e2e and not services"]  # make test-fast's


def run_pytest(*args: str, **env: str) -> tuple[int, str, float]:
    """A pytest session of this repo's tests; exit status, output, seconds taken.

    Killed with all its processes (xdist workers too) when it takes longer than QUICK.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    start = time.monotonic()
    with subprocess.Popen(
        command, cwd=REPO_DIR, env={**clean, **env}, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as session:  # fmt: skip
        try:
            output, _ = session.communicate(timeout=QUICK)
        except subprocess.TimeoutExpired:
            os.killpg(session.pid, signal.SIGKILL)
            output, _ = session.communicate()
            output += f"\n(killed after {QUICK} s)"
    return session.returncode, output, time.monotonic() - start


def closed_ports() -> dict[str, str]:
    """Both services pointed at loopback ports nobody listens on."""
    return {
        "TEMPLATE_TEST_PG": f"postgres://postgres@127.0.0.1:{free_port()}",
        "TEMPLATE_TEST_REDIS": f"redis://127.0.0.1:{free_port()}",
    }


@pytest.mark.parametrize("workers", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "plain"])
def test_a_session_on_services_that_do_not_answer_stops_at_once_saying_so(workers):
    urls = closed_ports()
    status, output, seconds = run_pytest(*workers, *services.SERVICE_TESTS, **urls)
    assert status == pytest.ExitCode.USAGE_ERROR, output
    assert seconds < QUICK, output
    assert not re.search(r"\b(passed|failed|error)\b", output), output
    pg, redis = urls["TEMPLATE_TEST_PG"], urls["TEMPLATE_TEST_REDIS"]
    assert (
        f"PostgreSQL at {pg} is not answering: start it (see README) or set TEMPLATE_TEST_PG."
    ) in output
    assert (
        f"Redis at {redis} is not answering: start it (see README) or set TEMPLATE_TEST_REDIS."
    ) in output
    assert "Traceback" not in output


def test_make_test_fast_needs_no_service():
    status, output, _ = run_pytest(*FAST_SELECTION, "tests/test_prompts.py", **closed_ports())
    assert status == pytest.ExitCode.OK, output
    assert "not answering" not in output


def test_sentences_name_the_service_and_its_url_without_the_password():
    def refuse(url: str) -> None:
        raise ConnectionRefusedError(url)

    down = [
        services.Service("PostgreSQL", "postgres://app:s3cret@db:5432", "TEMPLATE_TEST_PG", refuse),
        services.Service("Redis", "redis://127.0.0.1:6379", "TEMPLATE_TEST_REDIS", print),
    ]
    assert services.silent(down) == [
        "PostgreSQL at postgres://app:***@db:5432 is not answering: start it (see README) or set "
        "TEMPLATE_TEST_PG."
    ]
