"""Issue 14 case 2: a broker crash loses no message and stores none twice.

Mosquitto runs the shipped ``deploy/mosquitto/mosquitto.conf`` (autosave every 10 s) and is
SIGKILLed three times, each time right after it acknowledged (PUBACK) a burst of messages queued
for the collector's persistent session while the collector was away (the outage the queue is
for). Mosquitto 2.0.11 has no synchronous persistence, so a kill loses what it acknowledged
since its last save (``python benchmarks/broker_crash.py`` prints how much with PUBACK alone: here even the
collector's session, younger than the first save, is forgotten, and with it everything queued). The device is the project's reference client
(:class:`ingest.mqtt_device.DeviceClient`): it keeps every message until the collector's
receipt names it, and resends what is unconfirmed after each reconnect and after a timeout
(what the broker dropped for want of a subscriber comes back once the collector is there), so
nothing is lost; the store ignores the copies, so nothing is stored twice.
"""

from __future__ import annotations

import signal
from functools import partial

import pytest

from devices.mqtt_wire import encode_json_samples
from ingest.mqtt_device import DeviceClient
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store
from tests.mqtt_helpers import T0_NS, running_collector
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services

N = 3000
KILLS = 3
TOPIC = "adh/site1/P001/ped1/step_total"


def _payload(seq: int) -> bytes:
    return encode_json_samples(seq, [(T0_NS + seq * 1_000_000_000, float(seq))])


def _connected_times(dev: DeviceClient, n: int) -> bool:
    return dev.stats.connects == n


def test_no_message_is_lost_or_stored_twice_when_the_broker_is_killed_3_times(
    broker: Mosquitto, store: Store
) -> None:
    settings = MqttSettings(broker=broker.url, client_id="collector-crash", session_expiry_s=3600)
    with running_collector(settings, store):
        pass  # the collector's persistent session now exists; the collector goes away
    dev = DeviceClient(MqttSettings(broker=broker.url), "ped1", resend_after_s=5)
    assert wait_until(dev.connected.is_set, 30)
    per_burst = N // KILLS
    try:
        for k in range(KILLS):
            for seq in range(k * per_burst, (k + 1) * per_burst):
                assert dev.publish(TOPIC, _payload(seq))
            assert wait_until(lambda: dev.pending_pubacks() == 0, 120), dev.pending_pubacks()
            broker.stop(sig=signal.SIGKILL)  # right after the broker acknowledged the burst
            broker.start()
            assert wait_until(partial(_connected_times, dev, k + 2), 60), "no reconnect"
            dev.tick()  # resends everything unconfirmed (the broker may have lost it)
        # No collector, no receipt: the device still holds every message.
        assert len(dev.buffer) == N and dev.stats.receipts == 0
        with running_collector(settings, store) as c:
            assert dev.wait_confirmed(240), f"{len(dev.buffer)} of {N} never confirmed"
        assert dev.stats.receipts > 0 and dev.buffer.confirmed == N and len(dev.buffer) == 0
        # after each reconnect the device resent everything still unconfirmed (1, 2, 3 bursts),
        # and more after timeouts
        assert dev.buffer.resent >= per_burst * (1 + 2 + 3)
        assert dev.buffer.refused == 0 and dev.stats.bad_receipts == 0
    finally:
        dev.close(30)
    rows = store.execute("SELECT seq, COUNT(*) FROM frames WHERE device='ped1' GROUP BY seq")
    assert [r[0] for r in rows] == list(range(N))  # 0 lost
    assert {r[1] for r in rows} == {1}  # 0 stored twice
    assert store.count("frames") == N
    assert c.stats.frames == N and c.stats.duplicates == c.stats.messages - N
