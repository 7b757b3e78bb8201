"""Every Celery receiver of the project is connected once, in a real worker and in beat."""

import gc
import json
import os
import textwrap
import weakref

import pytest
from celery import signals
from celery.utils.dispatch import Signal

from {{ cookiecutter.project_slug }}.monitoring.celery_signals import (
    RECEIVERS,
    connect_celery_signals,
    dispatch_uid,
)

from .conftest import clean_env, requires, run_python

# Prints, for each Celery signal, the project's receivers connected to it, then stops the
# process: run inside a real worker (worker_ready) or beat (beat_init, after ours).
REPORT = """
import json, os, weakref
from celery import signals
from celery.utils.dispatch import Signal

def ours(signal):
    for _, receiver in signal.receivers:
        receiver = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        if receiver.__module__.startswith(("{{ cookiecutter.project_slug }}.", "config.")):
            yield f"{receiver.__module__}.{receiver.__qualname__}"

def report(**kwargs):
    found = {name: list(ours(s)) for name, s in vars(signals).items() if isinstance(s, Signal)}
    print("RECEIVERS " + json.dumps({name: names for name, names in found.items() if names}))
    os._exit(0)
"""
WORKER = """
from config.celery_app import app
signals.worker_ready.connect(report)
app.worker_main(["worker", "--pool=solo", "-Q", "signals-report", "--without-mingle",
                 "--without-gossip", "--loglevel=WARNING"])
"""
BEAT = """
from config.celery_app import app
signals.beat_init.connect(report)
app.start(["beat", "--schedule", os.environ["SCHEDULE"], "--loglevel=WARNING"])
"""


SIGNAL_NAMES = {name: s for name, s in vars(signals).items() if isinstance(s, Signal)}


def expected() -> dict[str, list[str]]:
    names = {signal: name for name, signal in SIGNAL_NAMES.items()}
    found: dict[str, list[str]] = {}
    for signal, receiver in RECEIVERS:
        found.setdefault(names[signal], []).append(dispatch_uid(receiver))
    return found


def connected_in(script: str, **env: str) -> dict[str, list[str]]:
    code = textwrap.dedent(REPORT) + textwrap.dedent(script)
    env = clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        REDIS_URL=os.environ["REDIS_URL"],
        METRICS_WORKER_PORT="0",  # any free port, if the exporter runs
        **env,
    )
    result = run_python("-c", code, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RECEIVERS ")]
    assert len(lines) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    [line] = lines
    return json.loads(line.removeprefix("RECEIVERS "))


def without_the_metrics_folder(found: dict[str, list[str]]) -> dict[str, list[str]]:
    """config/celery_app.py connects that one receiver itself, before Django starts."""
    folder = [name for name in found.get("import_modules", []) if name.startswith("config.")]
    assert len(folder) <= 1, folder
    rest = {k: [n for n in v if n not in folder] for k, v in found.items()}
    return {k: v for k, v in rest.items() if v}


def live(receiver):
    return receiver() if isinstance(receiver, weakref.ReferenceType) else receiver


def sorted_names(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {signal: sorted(names) for signal, names in found.items()}


def live_receivers(signal: Signal) -> int:
    """Receivers still there: a weak one whose object was collected is dropped lazily, on
    the signal's next connect, so it would make counts differ for no reason."""
    return sum(1 for _, receiver in signal.receivers if live(receiver) is not None)


def test_connecting_again_changes_nothing():
    gc.collect()  # weak receivers of earlier tests' objects in cycles die now, not midway
    before = {name: live_receivers(signal) for name, signal in SIGNAL_NAMES.items()}
    connect_celery_signals()
    connect_celery_signals()
    assert {name: live_receivers(signal) for name, signal in SIGNAL_NAMES.items()} == before
    for signal, receiver in RECEIVERS:
        uids = [key[0] for key, _ in signal.receivers]
        assert uids.count(dispatch_uid(receiver)) == 1, dispatch_uid(receiver)


@requires("REDIS_URL")
def test_a_real_worker_has_each_receiver_once():
    found = without_the_metrics_folder(connected_in(WORKER))
    assert sorted_names(found) == sorted_names(expected())


@requires("REDIS_URL")
def test_a_real_beat_has_each_receiver_once(tmp_path):
    found = without_the_metrics_folder(connected_in(BEAT, SCHEDULE=str(tmp_path / "schedule")))
    assert sorted_names(found) == sorted_names(expected())


@pytest.mark.parametrize("name", sorted(expected()))
def test_no_receiver_of_ours_is_connected_another_way(name):
    """Only connect_celery_signals() connects them: each one has its dispatch_uid."""
    signal = SIGNAL_NAMES[name]
    uids = {dispatch_uid(receiver) for s, receiver in RECEIVERS if s is signal}
    for (uid, _), receiver in signal.receivers:
        module = getattr(live(receiver), "__module__", "") or ""
        if module.startswith("{{ cookiecutter.project_slug }}."):
            assert uid in uids, (uid, receiver)
