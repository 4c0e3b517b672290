"""Helpers for the MQTT tests: a collector in a thread or a subprocess, a real paho publisher."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.mqtt import MqttCollector
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store
from tests.services import Mosquitto, wait_until
from tests.support.running import adherence_argv, serving

REPO = Path(__file__).resolve().parents[1]
T0_NS = 1_794_304_800_000_000_000  # 2026-11-10 14:00:00 UTC


class CollectorThread:
    """An :class:`MqttCollector` running in a thread; errors from ``run`` are kept."""

    def __init__(self, settings: MqttSettings, store: Store) -> None:
        self.collector = MqttCollector(settings, store)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.collector.run(self.stop)
        except BaseException as exc:  # kept for the test to re-raise
            self.error = exc

    def start(self) -> CollectorThread:
        self.thread.start()
        assert wait_until(
            lambda: self.collector.subscribed.is_set() or self.error is not None, 30
        ), "collector did not subscribe"
        if self.error is not None:
            raise self.error
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "collector did not stop"
        if self.error is not None:
            raise self.error


@contextmanager
def running_collector(settings: MqttSettings, store: Store) -> Iterator[MqttCollector]:
    """Run a collector in a thread for the duration of the block."""
    ct = CollectorThread(settings, store).start()
    try:
        yield ct.collector
    finally:
        ct.close()


class Publisher:
    """A real paho client publishing with QoS 1 (persistent session, so it survives restarts)."""

    def __init__(
        self, url_port: int, client_id: str = "test-pub", tls_ca: str | None = None
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if tls_ca is not None:
            self.client.tls_set(ca_certs=tls_ca)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(1, 2)
        self.connected = threading.Event()
        self.connects = 0
        self.client.on_connect = self._on_connect
        self.acked_mids: set[int] = set()
        self.client.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        self.client.connect_async(
            "127.0.0.1", url_port, keepalive=10, clean_start=False, properties=props
        )
        self.client.loop_start()
        assert self.connected.wait(20), "publisher did not connect"
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def _on_connect(self, *args: object) -> None:
        self.connects += 1
        self.connected.set()

    def _on_publish(self, client: object, userdata: object, mid: int, *args: object) -> None:
        self.acked_mids.add(mid)  # PUBACK received (QoS 1)

    def unacked(self) -> int:
        """Messages the broker has not acknowledged yet, including those published while the
        connection was down (paho keeps them and sends them after reconnecting)."""
        return sum(i.mid not in self.acked_mids for i in self.infos)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.infos.append(self.client.publish(topic, payload, qos=qos))

    def wait_all(self, timeout_s: float = 60) -> None:
        assert wait_until(lambda: all(i.is_published() for i in self.infos), timeout_s), (
            f"{sum(not i.is_published() for i in self.infos)} messages not acknowledged"
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class CollectorProcess:
    """``python -m adherence.cli collect mqtt`` as a subprocess with stderr in a file."""

    def __init__(self, workdir: Path, broker_url: str, store_path: Path, client_id: str) -> None:
        self.workdir = workdir
        self.args = adherence_argv(
            "collect",
            "mqtt",
            "--broker",
            broker_url,
            "--store",
            str(store_path),
            "--client-id",
            client_id,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.log = workdir / "collector-0.log"

    def start(self) -> None:
        self.runs += 1
        self.log = self.workdir / f"collector-{self.runs}.log"
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                self.args,
                cwd=REPO,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        assert wait_until(lambda: "mqtt subscribed" in self.text() or self.exited(), 30), (
            self.text()
        )
        assert not self.exited(), self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(20)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def start_simulator(
    broker_url: str, *options: str, stdout: Any = subprocess.PIPE, stderr: Any = subprocess.STDOUT
) -> subprocess.Popen[str]:
    """``python -m adherence.cli simulate mqtt --broker broker_url *options`` as a subprocess of
    this checkout, its output a text pipe (stderr in it) unless ``stdout``/``stderr`` say else."""
    return subprocess.Popen(
        adherence_argv("simulate", "mqtt", "--broker", broker_url, *options),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


# Mosquitto started as root drops to the "mosquitto" user, which cannot write the 0700 pytest
# folders: persistence and the log silently fail. "user root" keeps privileges (ignored when
# not root), so broker restarts really keep the sessions.
BROKER_CONF = "user root\n"


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real Mosquitto (persistence working) on a free loopback port."""
    yield from serving(Mosquitto(tmp_path_factory.mktemp("mosquitto"), extra_conf=BROKER_CONF))


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 (EC P-256), made with openssl.

    Returns (ca.pem, server.pem, server.key).
    """
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    srv, srv_key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = [
        [
            "openssl",
            "req",
            "-x509",
            *ec,
            "-keyout",
            ca_key,
            "-out",
            ca,
            "-days",
            "2",
            "-subj",
            "/CN=adherence-test-ca",
        ],
        ["openssl", "req", *ec, "-keyout", srv_key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            srv,
            "-days",
            "2",
            "-extfile",
            ext,
        ],
    ]
    for cmd in run:
        subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
    return ca, srv, srv_key
