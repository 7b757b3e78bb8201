"""A real Prometheus on loopback for tests: its config, its process and its query API.

Also a TCP proxy that can be cut, so a test can take a dependency away from one server.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ..conftest import PROJECT_DIR, free_port

MONITORING_DIR = PROJECT_DIR / "deploy" / "monitoring"
TOOLS = ("prometheus", "promtool")
# Short enough for a test to see several scrapes in a few seconds.
SCRAPE_INTERVAL_S = 1
# What Grafana puts in $__rate_interval for a 1 s scrape interval: max($__interval +
# scrape interval, 4 * scrape interval), with $__interval the 1 s step of our queries.
RATE_INTERVAL = f"{4 * SCRAPE_INTERVAL_S}s"


def require_prometheus() -> None:
    """Skip without Prometheus' binaries, or fail when REQUIRE_PROMETHEUS=1 (CI sets it)."""
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (Debian/Ubuntu: apt-get install prometheus)"
    if os.environ.get("REQUIRE_PROMETHEUS") == "1":
        pytest.fail(f"REQUIRE_PROMETHEUS=1 but {reason}")
    pytest.skip(reason)


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((MONITORING_DIR / "grafana-dashboard.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
    return [target["expr"] for panel in panels for target in panel["targets"]]


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((MONITORING_DIR / "prometheus-rules.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    require_prometheus()
    return subprocess.run(
        ["promtool", *args], input=stdin, capture_output=True, text=True, check=False, timeout=60
    )


def substitute_grafana_variables(expr: str) -> str:
    """A dashboard expression as Grafana sends it to Prometheus."""
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "1s")


@dataclass(frozen=True)
class Prometheus:
    url: str

    def api(self, endpoint: str, **params: str | float) -> dict:
        """The `data` of a successful answer of the HTTP API's `endpoint`."""
        url = f"{self.url}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (http only)
            body = json.load(answer)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query at the current time: the series the expression returns."""
        return self.api("query", query=expr)["result"]

    def drawn(self, expr: str, start: float) -> list[dict]:
        """The series a panel draws from `start` to now (1 s steps): those with a number."""
        series = self.api("query_range", query=expr, start=start, end=time.time(), step=1)
        return [
            s for s in series["result"] if any(not math.isnan(float(v)) for _, v in s["values"])
        ]

    def scrapes(self) -> float:
        """How many times the least scraped target has been scraped so far."""
        result = self.query("min(count_over_time(up[1h]))")
        return float(result[0]["value"][1]) if result else 0.0

    def wait_for_scrapes(self, count: int = 2, timeout: float = 15.0) -> None:
        """Wait until every target has been scraped `count` more times."""
        target, deadline = self.scrapes() + count, time.monotonic() + timeout
        while self.scrapes() < target:
            if time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not scrape {count} times within {timeout} s")
            time.sleep(0.2)


@contextmanager
def running_prometheus(
    folder: Path, targets: dict[str, str], rule_files: tuple[Path, ...] = ()
) -> Iterator[Prometheus]:
    """Prometheus on a free loopback port scraping `targets` (job name -> host:port) every
    second, with its config and data in `folder`; stopped on exit."""
    require_prometheus()
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL_S}s",
            "scrape_timeout": f"{SCRAPE_INTERVAL_S}s",
            "evaluation_interval": f"{SCRAPE_INTERVAL_S}s",
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }
    config_file = folder / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = folder / "prometheus.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                "prometheus", f"--config.file={config_file}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while not _ready(prometheus.url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not become ready:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


class CuttableProxy:
    """A TCP proxy to `upstream` (host, port). While cut, it closes every connection through
    it and each new one at once: the server behind it looks down to its clients."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.stopped = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.cut_off.set()
        with self.lock:
            for connection in self.open:
                _close(connection)
            self.open.clear()

    def mend(self) -> None:
        self.cut_off.clear()

    def close(self) -> None:
        self.stopped.set()
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client = self.listener.accept()[0]
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            if self.cut_off.is_set():
                client.close()
                continue
            server = socket.create_connection(self.upstream, timeout=5)
            server.settimeout(None)
            with self.lock:
                self.open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                _close(end)


def _close(connection: socket.socket) -> None:
    """Close, waking up a thread blocked reading it (close() alone does not)."""
    with suppress(OSError):  # not connected any more
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
