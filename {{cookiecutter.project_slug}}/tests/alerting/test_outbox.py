"""The outbox under faults: nothing accepted is lost, nothing is sent twice, pages never wait.

A stack of its own: a redis-server on a spare port (broker, cache and results), gunicorn
serving the receiver, a prefork worker and a beat running the sweeper every second, with
Slack and PagerDuty stubs. Each test makes one fault, then counts what each channel
received per alert.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..conftest import child_database_url, clean_env, free_port, worker_queues
from ..support.celery_processes import start_celery, stop, wait_until
from ..support.live_server import Answer, get, gunicorn, request
from ..support.loopback import Reply, StubServer, stub_server
from ..support.redis_server import RedisServer, needs_redis_server
from .test_webhooks import metric_alert, sign

pytestmark = [needs_redis_server, pytest.mark.django_db(transaction=True)]

SECRET = "outbox-test-secret"
DEADLINE = 1.0  # Sentry gives up on a webhook after 1 s
PD_OK = Reply(202, {"status": "success", "message": "Event processed"})


@dataclass
class Stack:
    redis: RedisServer
    folder: Path
    env: dict[str, str]
    base_url: str = ""
    worker: subprocess.Popen | None = None
    beat: subprocess.Popen | None = None
    posted_at: dict[str, float] = field(default_factory=dict)

    def start_worker(self) -> None:
        queues = ",".join(worker_queues(self.env["CELERY_TASK_DEFAULT_QUEUE"]))
        args = ["worker", "--pool=prefork", "--concurrency=2", "-Q", queues, "--without-mingle",
                "--without-gossip", "--hostname", f"outbox-{uuid.uuid4().hex[:6]}@%h"]  # fmt: skip
        log = self.folder / "worker.log"
        # A session of its own: kill -9 reaches the pool processes too.
        self.worker = start_celery(args, log, self.env, start_new_session=True)
        wait_until(lambda: "ready." in log.read_text(), 60, "the worker's start", log)

    def kill_worker(self) -> None:
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def post(self, severity: str) -> tuple[str, Answer]:
        """One signed metric_alert webhook; its marker (in the alert's title) and the answer."""
        marker = uuid.uuid4().hex
        payload = metric_alert(severity)
        payload["data"]["description_title"] = f"Outbox test {marker}"
        body = json.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            "Sentry-Hook-Resource": "metric_alert",
            "Sentry-Hook-Timestamp": str(int(time.time())),
            "Sentry-Hook-Signature": sign(body.encode(), SECRET),
        }
        self.posted_at[marker] = time.monotonic()
        return marker, request(self.base_url, "POST", "/webhooks/sentry/", body, headers, 10)


@pytest.fixture(scope="module")
def slack() -> Iterator[StubServer]:
    with stub_server() as server:
        yield server


@pytest.fixture(scope="module")
def pagerduty() -> Iterator[StubServer]:
    with stub_server(lambda received: PD_OK) as server:
        yield server


@pytest.fixture(scope="module")
def running_stack(django_db_setup, tmp_path_factory, slack, pagerduty) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("outbox")
    redis = RedisServer()
    redis.start()
    env = clean_env(
        DJANGO_SETTINGS_MODULE="tests.alerting.outbox_settings",
        DATABASE_URL=child_database_url(),
        REDIS_URL=redis.url,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_TASK_DEFAULT_QUEUE=f"outbox-{uuid.uuid4().hex[:8]}",
        CELERY_PROBE_DIR=str(folder / "probes"),
        METRICS_WORKER_PORT="0",
        SENTRY_WEBHOOK_SECRET=SECRET,
        SLACK_WEBHOOK_URL=f"{slack.url}/services/T000/B000/secret",
        PAGERDUTY_ROUTING_KEY="R0UT1NGKEY0123456789abcdef012345",
        PAGERDUTY_EVENTS_URL=f"{pagerduty.url}/v2/enqueue",
        ALERT_EMAILS="",
        ALERT_HTTP_TIMEOUT="3",  # a claim then lasts 14 s (outbox.claim_seconds)
        ALERT_SWEEP_INTERVAL="1",
        ALERT_SWEEP_GRACE="3",
    )
    stack = Stack(redis, folder, env)
    beat_args = ["--quiet", "beat", "--schedule", str(folder / "beat-schedule")]
    try:
        stack.start_worker()
        stack.beat = start_celery(beat_args, folder / "beat.log", env)
        with gunicorn(env) as base_url:
            stack.base_url = base_url
            yield stack
    finally:
        for process in (stack.worker, stack.beat):
            if process is not None:
                stop(process)
        redis.stop()


@pytest.fixture
def stack(running_stack, slack, pagerduty) -> Stack:
    for stub in (slack, pagerduty):
        stub.reset()
    slack.responder = lambda received: Reply(200, b"ok")
    if running_stack.redis.process is None:
        running_stack.redis.start()
    if running_stack.worker.poll() is not None:  # one test's failure is not the next one's
        running_stack.start_worker()
    return running_stack


def wait_for_each(stub: StubServer, markers: list[str], timeout: float) -> dict[str, int]:
    """How many requests `stub` received per marker, once each has one (or at `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(stub.matching(m) for m in markers):
        time.sleep(0.2)
    time.sleep(1)  # a duplicate would show now
    return {marker: len(stub.matching(marker)) for marker in markers}


def test_a_redis_restart_mid_burst_loses_no_accepted_alert(stack, slack):
    """Redis keeps nothing (as compose runs it): queued and unacknowledged messages vanish."""
    slack.responder = lambda received: Reply(200, b"ok", delay=0.3)  # a backlog builds up
    answers = {}
    for index in range(30):
        if index == 10:
            stack.redis.stop()
            time.sleep(1)  # down longer than a send: nothing in flight can pick up the backlog
        if index == 20:
            stack.redis.start()
        marker, answer = stack.post("warning")
        answers[marker] = answer
    assert [answer.status for answer in answers.values()] == [202] * 30
    seconds = sorted(answer.seconds for answer in answers.values())
    assert seconds[-1] < DEADLINE, seconds
    received = wait_for_each(slack, list(answers), timeout=60)
    assert received == dict.fromkeys(answers, 1)  # each delivered, none twice
    assert stack.worker.poll() is None  # the worker rode out the restart


def test_a_worker_killed_mid_send_loses_nothing(stack, slack):
    slack.responder = lambda received: Reply(200, b"ok", delay=0.5)
    markers = [stack.post("warning")[0] for _ in range(6)]
    log = stack.folder / "worker.log"
    wait_until(lambda: len(slack.received) >= 2, 30, "a send in flight", log)
    stack.kill_worker()  # mid-send: Slack has the request, the outbox no "sent"
    stack.start_worker()
    received = wait_for_each(slack, markers, timeout=60)
    assert all(received.values()), received
    # At least once: only the send in flight at the kill (one per channel) may come twice.
    assert sum(received.values()) - len(markers) <= 1, received


def test_a_hung_slack_never_delays_a_page(stack, slack, pagerduty):
    slack.responder = lambda received: Reply(200, b"ok", delay=30)  # accepts, never answers
    markers = []
    for _ in range(4):
        markers.append(stack.post("critical")[0])
        time.sleep(0.5)
    received = wait_for_each(pagerduty, markers, timeout=20)
    assert received == dict.fromkeys(markers, 1)
    delays = [pagerduty.matching(m)[0].at - stack.posted_at[m] for m in markers]
    assert max(delays) < DEADLINE, delays  # while every Slack call hangs for its timeout
    assert slack.received  # Slack was tried meanwhile


def test_a_frozen_broker_still_gets_each_webhook_answered_in_time(stack, slack):
    os.kill(stack.redis.process.pid, signal.SIGSTOP)  # accepts TCP, never answers
    try:
        answers = dict(stack.post("warning") for _ in range(5))
    finally:
        os.kill(stack.redis.process.pid, signal.SIGCONT)
    assert [answer.status for answer in answers.values()] == [202] * 5
    seconds = [answer.seconds for answer in answers.values()]
    # The first publish waits for its deadline; the next ones skip the broker for a while.
    assert max(seconds) < DEADLINE and statistics.median(seconds) < 0.3, seconds
    assert wait_for_each(slack, list(answers), timeout=40) == dict.fromkeys(answers, 1)


def test_without_postgresql_the_receiver_refuses_fast_and_liveness_holds():
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/gone",  # connection refused
        SENTRY_WEBHOOK_SECRET=SECRET,
        SLACK_WEBHOOK_URL="",
        PAGERDUTY_ROUTING_KEY="",
        ALERT_EMAILS="",
    )
    body = json.dumps(metric_alert("critical"))
    headers = {
        "Sentry-Hook-Resource": "metric_alert",
        "Sentry-Hook-Timestamp": str(int(time.time())),
        "Sentry-Hook-Signature": sign(body.encode(), SECRET),
    }
    with gunicorn(env) as base_url:
        answer = request(base_url, "POST", "/webhooks/sentry/", body, headers, 10)
        assert get(base_url, "/health/live/").status == 200
    assert answer.status == 503 and answer.seconds < DEADLINE, answer
    assert "store" in json.loads(answer.text)["error"]
