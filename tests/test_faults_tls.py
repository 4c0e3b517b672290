"""Issue 14 case 9: a TLS failure is named, and the collector exits when retrying cannot help.

Mosquitto runs the shipped configuration with its TLS listener (certificates made in the test
with the ``openssl`` command line: a CA and a server certificate for IP 127.0.0.1).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.errors import CollectorError
from ingest.mqtt import MqttCollector
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store
from tests.mqtt_helpers import make_tls_files, running_collector
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    ca, cert, key = make_tls_files(tmp_path / "tls")
    broker = Mosquitto(tmp_path / "broker", tls=(ca, cert, key))
    broker.start()
    yield broker, ca
    broker.stop()


def _fails_with(settings: MqttSettings, store: Store) -> str:
    """Run a collector and return the error it stopped with (it must stop by itself)."""
    c = MqttCollector(settings, store)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            c.run(stop)
        except BaseException as exc:  # kept for the assertion
            errors.append(exc)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    stopped = wait_until(lambda: not th.is_alive(), 60)
    stop.set()
    th.join(30)
    assert stopped, "the collector kept retrying"
    assert len(errors) == 1 and isinstance(errors[0], CollectorError), errors
    return str(errors[0])


def test_wrong_ca_is_named_and_fatal(
    tls_broker: tuple[Mosquitto, Path], tmp_path: Path, store: Store
) -> None:
    broker, _ = tls_broker
    other_ca, _, _ = make_tls_files(tmp_path / "other")
    url = f"mqtts://127.0.0.1:{broker.tls_port}"
    why = _fails_with(MqttSettings(broker=url, client_id="c-ca", tls_ca=str(other_ca)), store)
    assert "the broker's certificate does not verify" in why
    # OpenSSL's words for an issuer the CA file does not hold (X509_V_ERR_UNABLE_TO_GET_ISSUER_
    # CERT_LOCALLY, or _SELF_SIGNED_CERT_IN_CHAIN when the server sends its CA along)
    untrusted = ("unable to get local issuer certificate", "self-signed certificate in certificate")
    assert any(m in why for m in untrusted) and str(other_ca) in why


def test_hostname_mismatch_is_named_and_fatal(
    tls_broker: tuple[Mosquitto, Path], store: Store
) -> None:
    broker, ca = tls_broker
    url = f"mqtts://localhost:{broker.tls_port}"  # the certificate is for IP 127.0.0.1 only
    why = _fails_with(MqttSettings(broker=url, client_id="c-host", tls_ca=str(ca)), store)
    assert "does not verify" in why and "Hostname mismatch" in why


def test_plain_mqtt_to_the_tls_port_is_named_and_fatal(
    tls_broker: tuple[Mosquitto, Path], store: Store
) -> None:
    broker, _ = tls_broker
    url = f"mqtt://127.0.0.1:{broker.tls_port}"
    why = _fails_with(MqttSettings(broker=url, client_id="c-plain"), store)
    assert f"127.0.0.1:{broker.tls_port} is a TLS port" in why
    assert f"use mqtts://127.0.0.1:{broker.tls_port}" in why


def test_the_right_ca_connects(tls_broker: tuple[Mosquitto, Path], store: Store) -> None:
    broker, ca = tls_broker
    url = f"mqtts://127.0.0.1:{broker.tls_port}"
    with running_collector(MqttSettings(broker=url, client_id="c-ok", tls_ca=str(ca)), store) as c:
        assert c.stats.connected
