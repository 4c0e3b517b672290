"""Issue 14 case 5: a dead letter redelivered after a crash between commit and ack is kept once.

The crash point is made exact: a collector that commits but never acknowledges (its ``_ack``
does nothing, as if the process died right after the commit) is stopped; the broker still holds
every message unacknowledged in the persistent session and redelivers all of them, with their
original packet identifiers (MQTT 5.0, 4.4), to the next collector with the same client id.
"""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from ingest.mqtt import MqttCollector
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store
from tests.mqtt_helpers import Publisher, running_collector
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services

N_BAD = 200


class CrashBeforeAck(MqttCollector):
    """Commits every batch and then 'dies' before the acknowledgement."""

    def _ack(self, client: mqtt.Client, batch: list[tuple[int, mqtt.MQTTMessage, int]]) -> None:
        return None


def test_dead_letters_are_stored_once_after_a_crash_between_commit_and_ack(
    broker: Mosquitto, store: Store
) -> None:
    settings = MqttSettings(broker=broker.url, client_id="collector-dl", session_expiry_s=600)
    first = CrashBeforeAck(settings, store)
    stop = threading.Event()
    th = threading.Thread(target=first.run, args=(stop,), daemon=True)
    th.start()
    assert wait_until(first.subscribed.is_set, 30)
    pub = Publisher(broker.port, client_id="pub-dl")
    for i in range(N_BAD):
        pub.publish("adh/site1/P001/dev1/step_total", b'{"v":1,"seq":%d,"samples":' % i)
    pub.wait_all()
    assert wait_until(lambda: first.stats.messages == N_BAD, 60), first.stats
    stop.set()
    th.join(30)
    assert store.count("dead_letter") == N_BAD
    with running_collector(settings, store) as second:
        # every message comes again: none was acknowledged
        assert wait_until(lambda: second.stats.messages == N_BAD, 60), second.stats
    pub.close()
    assert second.stats.acked == N_BAD
    letters = store.dead_letters("mqtt:")
    assert len(letters) == N_BAD
    assert sorted(d.payload or b"" for d in letters) == sorted(
        b'{"v":1,"seq":%d,"samples":' % i for i in range(N_BAD)
    )
