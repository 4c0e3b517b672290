"""Issue 14 case 4: the collector's memory is bounded under any offered load.

Why it grew: MQTT 5 Receive Maximum (the collector asks for 1,000) limits only unacknowledged
QoS 1/2 messages (MQTT 5.0, 3.3.4 "Flow Control"); QoS 0 messages are never acknowledged and so
never held back, and paho's network thread queued every one of them for the consumer. Now the
queue has a bound (``MqttSettings.queue_max``): when it is full the network thread waits, stops
reading the socket, and TCP flow control holds the broker (and so the publisher) back.

A real paho publisher floods QoS 0 frames as fast as it can while a second device sends QoS 1
frames; the consumer commits one message per transaction (one fsync each), far slower.
"""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.mqtt_wire import encode_json_samples
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store
from tests.mqtt_helpers import T0_NS, Publisher, running_collector
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services

QUEUE_MAX = 50
N_QOS0 = 20_000
N_QOS1 = 300


def _flood(port: int, done: threading.Event) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flood", protocol=mqtt.MQTTv5)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    for seq in range(N_QOS0):
        body = encode_json_samples(seq, [(T0_NS + seq * 10**9, float(seq))])
        c.publish("adh/site1/P001/fast/step_total", body, qos=0)
    done.set()
    wait_until(lambda: not c.want_write(), 60)
    c.disconnect()
    c.loop_stop()


def test_queue_never_exceeds_its_bound_and_no_qos1_message_is_lost(
    broker: Mosquitto, store: Store
) -> None:
    settings = MqttSettings(
        broker=broker.url, client_id="collector-overload", queue_max=QUEUE_MAX, batch_max=1
    )
    done = threading.Event()
    seen: list[int] = []
    with running_collector(settings, store) as c:
        pub = Publisher(broker.port, client_id="device-qos1")
        flood = threading.Thread(target=_flood, args=(broker.port, done), daemon=True)
        flood.start()
        for seq in range(N_QOS1):
            pub.publish(
                "adh/site1/P002/slow/step_total",
                encode_json_samples(seq, [(T0_NS + seq * 10**9, float(seq))]),
            )
        assert done.wait(120)
        flood.join(60)
        assert wait_until(lambda: pub.unacked() == 0, 120)

        def qos1_stored() -> bool:
            seen.append(c._q.qsize())
            return (
                store.count_frame_seqs("P002", "slow", "step_total", (0, N_QOS1), (0, 2**62))
                == N_QOS1
            )

        assert wait_until(qos1_stored, 120), "QoS 1 frames lost"
        pub.close()
    assert c.stats.queue_peak <= QUEUE_MAX
    assert max(seen) <= QUEUE_MAX
    assert c.stats.queue_peak == QUEUE_MAX  # the bound was reached: the publisher was faster
    fast = store.count_frame_seqs("P001", "fast", "step_total", (0, N_QOS0), (0, 2**62))
    assert 0 < fast <= N_QOS0  # QoS 0 is "at most once": what arrived is stored once
    assert c.stats.dead_letters == 0
