"""Real servers for tests: Mosquitto, InfluxDB 1.6.7 and VictoriaMetrics on loopback.

Each server is started by the tests themselves, on a free port, with all its data in a temporary
folder, and stopped afterwards; nothing relies on a service already running. A server can be
stopped and started again on the same port and data folder, to test outages and restarts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, *extra: str) -> str:
    """Locate a server binary on PATH or in the usual Debian places; fail with a clear message."""
    for cand in (
        shutil.which(name),
        *(os.path.join(d, name) for d in ("/usr/sbin", "/usr/bin", *extra)),
    ):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise RuntimeError(
        f"{name} not found: install the Debian package (the README's test command does this as root)"
    )


def _tcp_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


class Service:
    """A server process with a fixed port and data folder that can be stopped and restarted."""

    name = "service"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return _tcp_open(self.port)

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server and wait until it answers."""
        if self.proc is not None and self.proc.poll() is None:
            return
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout_s} s: {self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait until its port is closed."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        deadline = time.monotonic() + 5
        while _tcp_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


class Mosquitto(Service):
    """Mosquitto 2.x on 127.0.0.1:<free port>, anonymous, persistence in the work folder."""

    name = "mosquitto"

    def __init__(self, workdir: Path, extra_conf: str = "") -> None:
        super().__init__(workdir)
        self.conf = self.workdir / "mosquitto.conf"
        self.conf.write_text(
            ""
            # As root, Mosquitto drops to the "mosquitto" user, which cannot write our 0700 temp
            # folders (no persistence, no log); "user root" keeps it as root. Ignored otherwise.
            + ("" if "user " in extra_conf else "user root\n")
            + f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            f"log_dest file {self.workdir}/mosquitto-internal.log\n"
            "log_type error\nlog_type warning\nlog_type notice\n" + extra_conf
        )

    def command(self) -> list[str]:
        return [find_binary("mosquitto"), "-c", str(self.conf)]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class InfluxDB16(Service):
    """InfluxDB 1.6.7 (``influxd``): HTTP on a free loopback port, other listeners off."""

    name = "influxd"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.rpc_port = free_port()
        d = self.workdir
        self.conf = d / "influxdb.conf"
        self.conf.write_text(
            f"""reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
[continuous_queries]
  enabled = false
"""
        )

    def command(self) -> list[str]:
        return [find_binary("influxd"), "run", "-config", str(self.conf)]

    def ready(self) -> bool:
        return _http_ok(f"{self.url}/ping")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, q: str, db: str | None = None) -> dict[str, object]:
        """Run an InfluxQL query through the v1 ``/query`` endpoint; return the decoded JSON."""
        import json
        import urllib.parse

        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        req = urllib.request.Request(
            f"{self.url}/query", data=urllib.parse.urlencode(params).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            result: dict[str, object] = json.loads(r.read())
            return result


class VictoriaMetrics(Service):
    """VictoriaMetrics single-node: accepts the InfluxDB v2 write API; dedup on for replays."""

    name = "victoria-metrics"

    def command(self) -> list[str]:
        return [
            find_binary("victoria-metrics", "/usr/bin"),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.workdir}/data",
            "-retentionPeriod=100y",
            "-dedup.minScrapeInterval=1ms",
            "-search.latencyOffset=0s",
            "-loggerLevel=WARN",
        ]

    def ready(self) -> bool:
        return _http_ok(f"{self.url}/health")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def export(self, match: str = '{__name__!=""}') -> list[dict[str, object]]:
        """All stored series matching ``match`` from ``/api/v1/export`` (after a cache flush)."""
        import json
        import urllib.parse

        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).close()
        qs = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{qs}", timeout=10) as r:
            return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]


def wait_until(pred: Callable[[], bool], timeout_s: float = 20.0, interval_s: float = 0.05) -> bool:
    """Poll ``pred`` until it returns true or ``timeout_s`` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval_s)
    return bool(pred())
