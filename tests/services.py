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


DEPLOY_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "mosquitto.conf"
_TLS_KEYS = ("certfile", "keyfile", "cafile", "tls_version", "require_certificate")


def broker_conf(
    workdir: Path,
    port: int,
    *,
    tls: tuple[Path, Path, Path] | None = None,
    tls_port: int | None = None,
    passwd: Path | None = None,
    acl: Path | None = None,
    template: Path = DEPLOY_CONF,
) -> str:
    """The shipped ``deploy/mosquitto/mosquitto.conf`` with test ports, paths and files.

    Durability and queue settings are kept as shipped. The loopback listener moves to ``port``;
    the TLS listener moves to ``tls_port`` with ``tls`` = (ca, cert, key), or is dropped without
    it. Without ``passwd`` the broker is anonymous (most tests), without ``acl`` it has none.
    """
    out: list[str] = []
    in_tls = False
    for raw in template.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if key == "listener":
            in_tls = value.split()[0] == "8883"
            if in_tls:
                if tls is not None:
                    out.append(f"listener {tls_port} 127.0.0.1")
                continue
            out.append(f"listener {port} 127.0.0.1")
            continue
        if in_tls and key in _TLS_KEYS:
            if tls is not None:
                ca, cert, tkey = tls
                files = {"cafile": ca, "certfile": cert, "keyfile": tkey}
                out.append(f"{key} {files[key]}" if key in files else line)
            continue
        replaced = {
            # As root, Mosquitto drops to the "mosquitto" user, which cannot write our 0700
            # temp folders (no persistence, no log); "user root" keeps it as root. Ignored
            # when not root.
            "user": "user root",
            "persistence_location": f"persistence_location {workdir}/",
            "log_dest": f"log_dest file {workdir}/mosquitto-internal.log",
            "allow_anonymous": f"allow_anonymous {'false' if passwd else 'true'}",
            "password_file": f"password_file {passwd}" if passwd else "",
            "acl_file": f"acl_file {acl}" if acl else "",
        }
        out.append(replaced.get(key, line))
    return "\n".join(x for x in out if x) + "\n"


class Mosquitto(Service):
    """Mosquitto 2.x on 127.0.0.1:<free port>, configured from ``deploy/mosquitto``.

    Anonymous unless ``passwd`` is given; ``tls`` = (ca, cert, key) adds the TLS listener on
    :attr:`tls_port`. ``extra_conf`` lines are appended (they apply to the loopback listener).
    """

    name = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        extra_conf: str = "",
        *,
        tls: tuple[Path, Path, Path] | None = None,
        passwd: Path | None = None,
        acl: Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.tls_port = free_port() if tls is not None else None
        self.conf = self.workdir / "mosquitto.conf"
        text = broker_conf(
            self.workdir, self.port, tls=tls, tls_port=self.tls_port, passwd=passwd, acl=acl
        )
        if "user " in extra_conf:
            text = text.replace("user root\n", "")
        self.conf.write_text(text + extra_conf)

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


def wait_until(pred: Callable[[], bool], timeout_s: float = 60.0, interval_s: float = 0.05) -> bool:
    """Poll ``pred`` until it returns true or ``timeout_s`` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval_s)
    return bool(pred())
