"""Folding a dead process's multiprocess files into per-type totals.

Written against prometheus-client 0.26.0. This is the one module that relies on how that
version lays out PROMETHEUS_MULTIPROC_DIR: one `<type>_<pid>.db` file per process and
metric type (gauges: `gauge_<mode>_<pid>.db`), each an `MmapedDict` of JSON keys (one
per sample: each histogram bucket on its own, not cumulative) to a (value, timestamp)
pair, and a scrape (`MultiProcessCollector`) that adds up the values of equal keys across
every `*.db` file whose name starts with its type. tests/metrics/test_fold.py fails if
any of that changes.

Summing equal keys is therefore exact for counters, histograms and summaries: a dead
process's values are added to `<type>_folded.db` and its files removed, so a scrape reads
one file per type for all the dead processes instead of one per dead process (without
this, every recycled gunicorn worker made each scrape slower, without bound:
prometheus/client_python#204). Gauges are left alone: their modes do not add up.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import mark_process_dead

FOLDED_TYPES = ("counter", "histogram", "summary")
LOCK_NAME = ".fold.lock"  # not *.db: a scrape reads every *.db file

# A flock belongs to the open file, which a forked child shares: a Celery prefork child
# forked while the exporter thread held the lock would hold it for its whole life. So a
# child closes its copies of the lock files held at the fork (that leaves the parent's
# locks in place), and no fork happens between opening one and recording it.
_held: set[int] = set()
_opening = threading.Lock()


def _after_fork_in_child() -> None:
    global _opening
    for fd in _held:
        os.close(fd)
    _held.clear()
    _opening = threading.Lock()


os.register_at_fork(
    before=lambda: _opening.acquire(),
    after_in_parent=lambda: _opening.release(),
    after_in_child=_after_fork_in_child,
)


@contextmanager
def folder_lock(folder: str | os.PathLike[str], *, exclusive: bool) -> Iterator[None]:
    """Held shared by a scrape and exclusive by a fold, so a scrape never sees a dead
    process's values twice (folded and in its own file) or not at all."""
    with _opening:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        _held.add(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        with _opening:
            _held.discard(fd)
            os.close(fd)  # releases the lock


def pids_with_files(folder: str | os.PathLike[str]) -> set[int]:
    """The pids that own files in `folder`."""
    owners = (path.stem.rpartition("_")[2] for path in Path(folder).glob("*.db"))
    return {int(owner) for owner in owners if owner.isdigit()}


def fold_process_files(folder: str | os.PathLike[str], pid: int) -> None:
    """Add process `pid`'s counters, histograms and summaries to the folded totals and
    delete their files. Call only once `pid` writes no more (it is dead, or exiting)."""
    folder = Path(folder)
    with folder_lock(folder, exclusive=True):
        for typ in FOLDED_TYPES:
            own = folder / f"{typ}_{pid}.db"
            if not own.exists():
                continue
            folded = folder / f"{typ}_folded.db"
            totals: dict[str, float] = defaultdict(float)
            for source in (folded, own):
                if source.exists():
                    for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(
                        str(source)
                    ):
                        totals[key] += value
            # Written aside, then renamed: a fold cut short leaves the old totals whole.
            partial = folder / f".{typ}_folded.partial"
            partial.unlink(missing_ok=True)
            out = MmapedDict(str(partial))
            try:
                for key, value in totals.items():
                    out.write_value(key, value, 0.0)
            finally:
                out.close()
            os.replace(partial, folded)
            own.unlink()


def process_ended(folder: str | os.PathLike[str], pid: int) -> None:
    """Everything a process that writes no more leaves behind: its live gauges dropped
    (prometheus-client's own mark_process_dead), its other files folded."""
    mark_process_dead(pid, str(folder))
    fold_process_files(folder, pid)
