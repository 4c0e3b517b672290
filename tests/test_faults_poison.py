"""Issue 14 case 1: one poison message never stops ingest (real Mosquitto, real paho).

The poison is the message from the issue: a JSON ``step_total`` whose ``seq`` is 2**63, one more
than SQLite's INTEGER (int64) holds. Before the fix it failed the whole batch insert, the
collector exited and the broker redelivered the poison forever.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from devices.errors import DecodeError
from devices.mqtt_wire import decode_payload, encode_json_samples, encode_session_event, parse_topic
from ingest.mqtt_device import DeviceClient
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store
from tests.mqtt_helpers import T0_NS, Publisher, running_collector
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services

POISON = b'{"v":1,"seq":9223372036854775808,"samples":[[1794304800000000000,1]]}'
POISON_EVENT = (
    b'{"v":1,"seq":9223372036854775808,"events":[{"event":"start","t_ns":1794304800000000000,'
    b'"session_id":"s1","exercise":"bridge"}]}'
)


def _good_frames() -> list[tuple[str, bytes]]:
    """100 good step_total messages: 10 devices x 10 sequence numbers, distinct values."""
    out = []
    for d in range(10):
        for seq in range(10):
            body = encode_json_samples(seq, [(T0_NS + seq * 60_000_000_000, 100.0 * d + seq)])
            out.append((f"adh/site1/P{d:03d}/ped{d}/step_total", body))
    return out


def test_poison_is_dead_lettered_alone_and_the_rest_is_stored(
    broker: Mosquitto, store: Store
) -> None:
    settings = MqttSettings(broker=broker.url, client_id="collector-poison")
    with running_collector(settings, store) as c:
        pub = Publisher(broker.port)
        pub.publish("adh/site1/P999/ped9/step_total", POISON)
        pub.publish("adh/site1/P999/app/session", POISON_EVENT)
        for topic, body in _good_frames():
            pub.publish(topic, body)
        pub.wait_all()
        assert wait_until(lambda: c.stats.messages == 102, 60), c.stats
        pub.close()
        # the poison too is acknowledged: the broker will not redeliver it
        assert wait_until(lambda: c.stats.acked == 102, 60), c.stats
    assert store.count("frames") == 100
    letters = store.dead_letters("mqtt:")
    assert [d.source for d in letters] == [
        "mqtt:adh/site1/P999/ped9/step_total",
        "mqtt:adh/site1/P999/app/session",
    ]
    assert all("'seq' must be an integer in 0..4294967295" in d.reason for d in letters)
    assert letters[0].payload == POISON
    for d in range(10):
        t, v = store.read_stream(f"P{d:03d}", "step_total")
        assert v[:, 0].tolist() == [100.0 * d + seq for seq in range(10)]


def test_dead_letters_are_receipted_so_a_device_stops_resending_them(
    broker: Mosquitto, store: Store
) -> None:
    """A device keeps each message until a receipt: a poison message, dead-lettered, must be
    confirmed too (by its payload digest), or the device would resend it forever."""
    settings = MqttSettings(broker=broker.url, client_id="collector-poison-receipt")
    with running_collector(settings, store) as c:
        dev = DeviceClient(MqttSettings(broker=broker.url), "ped9", resend_after_s=600)
        try:
            assert wait_until(dev.connected.is_set, 30)
            assert dev.publish("adh/site1/P999/ped9/step_total", POISON)
            assert dev.publish("adh/site1/P999/ped9/nonsense", b"\xff\x00")  # unknown stream
            for seq in range(5):
                assert dev.publish("adh/site1/P999/ped9/step_total", _good_frames()[seq][1])
            assert len(dev.buffer) == 7
            assert dev.wait_confirmed(60), f"{len(dev.buffer)} never confirmed"
        finally:
            dev.close(30)
        assert c.stats.dead_letters == 2 and c.stats.frames == 5
    assert dev.buffer.confirmed == 7 and dev.buffer.resent == 0
    assert len(store.dead_letters("mqtt:adh/site1/P999/ped9/")) == 2


def test_a_message_the_store_refuses_is_dead_lettered_alone(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """Whatever the decoder lets through, a row SQLite refuses must not fail its batch.

    A real SQLite trigger refuses device ``ped7``'s frames (as a too-large integer did).
    """
    path = tmp_path / "store.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON frames WHEN NEW.device='ped7'"
        " BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
    )
    db.commit()
    db.close()
    settings = MqttSettings(broker=broker.url, client_id="collector-refuse", batch_max=1000)
    with Store(path) as store:
        with running_collector(settings, store) as c:
            pub = Publisher(broker.port)
            for topic, body in _good_frames():
                pub.publish(topic, body)
            pub.wait_all()
            assert wait_until(lambda: c.stats.messages == 100, 60), c.stats
            pub.close()
        assert store.count("frames") == 90
        letters = store.dead_letters("mqtt:adh/site1/P007/ped7/")
        assert len(letters) == 10
        assert all("refused by test trigger" in d.reason for d in letters)
        assert c.stats.acked == 100


@pytest.mark.parametrize(
    ("stream", "payload", "why"),
    [
        ("step_total", POISON, "'seq' must be an integer in 0..4294967295"),
        ("step_total", b'{"v":1,"seq":1,"samples":[[1,' + b"1" + b"0" * 400 + b"]]}", "samples[0]"),
        ("step_total", b'{"v":1,"seq":1,"samples":[[' + b"9" * 19 + b",1]]}", "samples[0]"),
        ("step_total", b'{"v":1,"seq":' + b"9" * 5000 + b',"samples":[]}', "invalid JSON number"),
        ("step_total", b'{"v":true,"seq":1,"samples":[[1,1]]}', "'v' must be 1, got True"),
        ("step_total", encode_json_samples(1, [(T0_NS, -5.0)]), "step_total values must be >= 0"),
        ("heart_rate", encode_json_samples(1, [(T0_NS, -60.0)]), "heart_rate values must be >= 0"),
        ("session", POISON_EVENT, "'seq' must be an integer in 0..4294967295"),
    ],
)
def test_decoder_bounds_every_integer(stream: str, payload: bytes, why: str) -> None:
    parts = parse_topic("adh", f"adh/site1/P001/dev1/{stream}")
    with pytest.raises(DecodeError, match=why.replace("[", r"\[").replace(".", r"\.")):
        decode_payload(parts, payload, T0_NS)


def test_binary_frame_time_beyond_int64_is_a_decode_error() -> None:
    from devices.mqtt_wire import HEADER, MAGIC

    parts = parse_topic("adh", "adh/site1/P001/dev1/accel")
    body = HEADER.pack(MAGIC, 1, 1, 2, 3, 1, 0, 2**63, 50.0, 1.0) + b"\x00" * 12
    with pytest.raises(DecodeError, match="beyond int64"):
        decode_payload(parts, body, T0_NS)
    near = HEADER.pack(MAGIC, 1, 1, 2, 3, 2, 0, 2**63 - 1, 1.0, 1.0) + b"\x00" * 24
    with pytest.raises(DecodeError, match="last sample time is beyond int64"):
        decode_payload(parts, near, T0_NS)


def test_stop_needs_only_the_session_id() -> None:
    """Issue 16 item 4: a ``stop`` without ``exercise`` is a valid stop."""
    parts = parse_topic("adh", "adh/site1/P001/app/session")
    body = json.dumps(
        {"v": 1, "seq": 2, "events": [{"event": "stop", "t_ns": T0_NS, "session_id": "s1"}]}
    ).encode()
    (ev,) = decode_payload(parts, body, T0_NS).events
    assert (ev.kind, ev.session_id, ev.exercise, ev.t_ns) == ("session_stop", "s1", None, T0_NS)
    assert encode_session_event(2, "stop", T0_NS, "s1", None) == body.replace(b" ", b"")
    start = encode_session_event(0, "start", T0_NS, "s1", None)
    with pytest.raises(DecodeError, match=r"events\[0\]\.exercise must be an id, got None"):
        decode_payload(parts, start, T0_NS)
