"""Issue 14 case 3: patients cannot read or end each other's sessions.

A real Mosquitto runs the shipped ``deploy/mosquitto`` configuration with its pattern ACL and a
password file made with ``mosquitto_passwd``; the session service logs in with its own service
account. Patient P002 tries to read P001's feedback and to end P001's running session; a sensor
tries to read another sensor's receipts and to forge receipts.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from devices.mqtt_wire import encode_session_event
from ingest.mqtt_settings import MqttSettings
from ingest.session_mqtt import SessionService, SessionServiceSettings
from ingest.store import Store
from tests.mqtt_helpers import T0_NS
from tests.services import Mosquitto, find_binary, wait_until

pytestmark = pytest.mark.services

ACL = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "acl"
USERS = {"P001": "pw-one-1", "P002": "pw-two-2", "sessions": "pw-sessions", "collector": "pw-c"}
NOT_AUTHORIZED = 0x87  # MQTT 5.0, 2.4 Reason Code


class Client:
    """A real paho MQTT 5 client that records what it receives and every reason code."""

    def __init__(self, broker: Mosquitto, user: str, client_id: str) -> None:
        self.messages: list[tuple[str, dict[str, object]]] = []
        self.suback: list[int] = []
        self.puback: dict[int, int] = {}
        self.lock = threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, USERS[user])
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        connected = threading.Event()
        self.c.on_connect = lambda *a: connected.set()
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()
        assert connected.wait(20)

    def _on_message(self, c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((m.topic, json.loads(m.payload)))

    def _on_subscribe(
        self, c: mqtt.Client, u: object, mid: int, rcs: list[ReasonCode], p: Properties | None
    ) -> None:
        self.suback.extend(rc.value for rc in rcs)

    def _on_publish(
        self, c: mqtt.Client, u: object, mid: int, rc: ReasonCode, p: Properties | None
    ) -> None:
        self.puback[mid] = rc.value

    def subscribe(self, topic: str) -> int:
        n = len(self.suback)
        self.c.subscribe(topic, qos=1)
        assert wait_until(lambda: len(self.suback) > n, 60)
        return self.suback[-1]

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish with QoS 1 and return the broker's PUBACK reason code."""
        info = self.c.publish(topic, payload, qos=1)
        assert wait_until(lambda: info.mid in self.puback, 60)
        return self.puback[info.mid]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    passwd = tmp_path / "passwd"
    tool = find_binary("mosquitto_passwd")
    for i, (user, pw) in enumerate(USERS.items()):
        flags = ["-c"] if i == 0 else []
        subprocess.run([tool, *flags, "-b", str(passwd), user, pw], check=True)
    broker = Mosquitto(tmp_path / "broker", passwd=passwd, acl=ACL)
    broker.start()
    yield broker
    broker.stop()


def _service(
    broker: Mosquitto, store: Store, tmp_path: Path
) -> tuple[SessionService, threading.Event, threading.Thread]:
    pw = tmp_path / "sessions.pw"
    pw.write_text(USERS["sessions"] + "\n")
    mq = MqttSettings(
        broker=broker.url, client_id="sessions-1", username="sessions", password_file=str(pw)
    )
    svc = SessionService(SessionServiceSettings(mq, idle_timeout_s=3600), store)
    stop = threading.Event()
    th = threading.Thread(target=svc.run, args=(stop,), daemon=True)
    th.start()
    assert wait_until(svc.subscribed.is_set, 30), "session service did not subscribe"
    return svc, stop, th


def test_second_patient_can_neither_read_nor_end_the_first_patients_session(
    secure_broker: Mosquitto, store: Store, tmp_path: Path
) -> None:
    svc, stop, th = _service(secure_broker, store, tmp_path)
    p1 = Client(secure_broker, "P001", "P001-app")
    p2 = Client(secure_broker, "P002", "P002-app")
    try:
        assert p1.subscribe("adh/site1/P001/+/feedback") == 1
        # P002 subscribes to everyone's feedback and to P001's own topic.
        p2.subscribe("adh/+/+/+/feedback")
        p2.subscribe("adh/site1/P001/dev1/feedback")
        start = encode_session_event(0, "start", T0_NS, "s-p001", "bridge", subject="P001")
        assert p1.publish("adh/site1/P001/dev1/session", start) == 0
        assert wait_until(lambda: svc.stats.started == 1, 60)
        assert wait_until(lambda: any(m[1]["event"] == "session_start" for m in p1.messages), 60)

        # 1. Forged start (and stop) on P001's topic: the broker ACL refuses the publish.
        forged = encode_session_event(1, "start", T0_NS + 10**9, "s-forged", "bridge")
        assert p2.publish("adh/site1/P001/dev1/session", forged) == NOT_AUTHORIZED
        stop_p1 = encode_session_event(1, "stop", T0_NS + 10**9, "s-p001", None)
        assert p2.publish("adh/site1/P001/dev1/session", stop_p1) == NOT_AUTHORIZED
        # 2. On P002's own topic but naming P001 in the payload: the service refuses it.
        claim = encode_session_event(2, "start", T0_NS + 2 * 10**9, "s-x", "bridge", subject="P001")
        assert p2.publish("adh/site1/P002/dev9/session", claim) == 0
        # 3. On P002's own topic with P001's running session id: the service refuses it.
        steal = encode_session_event(3, "start", T0_NS + 3 * 10**9, "s-p001", "bridge")
        assert p2.publish("adh/site1/P002/dev9/session", steal) == 0
        assert wait_until(lambda: svc.stats.dead_letters == 2, 60), svc.stats
        reasons = [d.reason for d in store.dead_letters("session:")]
        assert any(
            "events[0].subject 'P001' does not match the topic's subject 'P002'" in r
            for r in reasons
        )
        assert any("session id 's-p001' belongs to another patient" in r for r in reasons)
        assert svc.stats.started == 1 and svc.stats.finished == 0
        assert set(svc._sessions) == {("site1", "P001", "dev1")}

        end = encode_session_event(4, "stop", T0_NS + 5 * 10**9, "s-p001", None)
        assert p1.publish("adh/site1/P001/dev1/session", end) == 0
        assert wait_until(lambda: svc.stats.finished == 1, 60)
        assert wait_until(lambda: any(m[1]["event"] == "session_end" for m in p1.messages), 60)
    finally:
        stop.set()
        th.join(30)
        p1.close()
        p2.close()
    (session,) = store.sessions()
    assert (session.session_id, session.subject, session.status) == ("s-p001", "P001", "complete")
    assert session.end_ns == T0_NS + 5 * 10**9  # the stop's own time, not the wall clock
    assert p2.messages == []  # P002 received none of P001's feedback
    assert {t for t, _ in p1.messages} == {"adh/site1/P001/dev1/feedback"}


def test_a_device_publishes_only_its_own_streams(secure_broker: Mosquitto) -> None:
    dev = Client(secure_broker, "P001", "dev1")
    try:
        from devices.mqtt_wire import encode_json_samples

        body = encode_json_samples(0, [(T0_NS, 10.0)])
        # 0x10 "no matching subscribers" is a success code too (MQTT 5.0, 3.4.2.1)
        assert dev.publish("adh/site1/P001/dev1/step_total", body) in (0, 0x10)
        assert dev.publish("adh/site1/P001/dev2/step_total", body) == NOT_AUTHORIZED
        assert dev.publish("adh/site1/P002/dev1/step_total", body) == NOT_AUTHORIZED
        assert dev.publish("adh/site1/P001/dev1/feedback", b"{}") == NOT_AUTHORIZED
    finally:
        dev.close()


def _connack(broker: Mosquitto, user: str | None, pw: str | None) -> int:
    """The CONNACK reason code the broker gives these credentials."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon", protocol=mqtt.MQTTv5)
    if user is not None:
        c.username_pw_set(user, pw)
    codes: list[int] = []
    c.on_connect = lambda cl, u, f, rc, p: codes.append(rc.value)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert wait_until(lambda: bool(codes), 60)
    c.loop_stop()
    c.disconnect()
    return codes[0]


def test_anonymous_and_wrong_password_are_refused(secure_broker: Mosquitto) -> None:
    # 0x86 bad user name or password, 0x87 not authorized (MQTT 5.0, 3.2.2.2)
    assert _connack(secure_broker, None, None) in (0x86, 0x87)
    assert _connack(secure_broker, "P001", "wrong") in (0x86, 0x87)
    assert _connack(secure_broker, "P001", USERS["P001"]) == 0


def test_a_device_reads_only_its_own_receipts(
    secure_broker: Mosquitto, store: Store, tmp_path: Path
) -> None:
    from devices.mqtt_wire import encode_json_samples
    from tests.mqtt_helpers import running_collector

    pw = tmp_path / "collector.pw"
    pw.write_text(USERS["collector"] + "\n")
    settings = MqttSettings(
        broker=secure_broker.url, client_id="coll-1", username="collector", password_file=str(pw)
    )
    dev1 = Client(secure_broker, "P001", "dev1")
    dev2 = Client(secure_broker, "P001", "dev2")  # the same patient's second sensor
    other = Client(secure_broker, "P002", "dev9")  # another patient
    try:
        assert dev1.subscribe("adh/site1/P001/dev1/receipt") == 1
        dev1.subscribe("adh/site1/P001/dev2/receipt")  # refused or delivers nothing
        dev1.subscribe("adh/+/+/+/receipt")
        other.subscribe("adh/site1/P001/dev1/receipt")
        other.subscribe("adh/+/+/+/receipt")
        assert dev2.subscribe("adh/site1/P001/dev2/receipt") == 1
        with running_collector(settings, store) as c:
            body1, body2 = (
                encode_json_samples(4, [(T0_NS, 5.0)]),
                encode_json_samples(7, [(T0_NS, 3.0)]),
            )
            assert dev2.publish("adh/site1/P001/dev2/step_total", body2) == 0
            assert dev1.publish("adh/site1/P001/dev1/step_total", body1) == 0
            assert wait_until(lambda: len(dev1.messages) >= 1 and len(dev2.messages) >= 1, 30)
            assert wait_until(lambda: c.stats.receipts == 2, 60), c.stats
        assert c.stats.receipts_refused == 0  # the ACL lets the collector write receipts
    finally:
        for cl in (dev1, dev2, other):
            cl.close()
    # Each device got only its own receipt, naming its own seq (dev1 once per matching
    # subscription: its own topic and the wildcard); P002 got none.
    assert {(t, str(m["seqs"])) for t, m in dev1.messages} == {
        ("adh/site1/P001/dev1/receipt", "{'step_total': [[4, 4]]}")
    }
    assert [(t, m["seqs"]) for t, m in dev2.messages] == [
        ("adh/site1/P001/dev2/receipt", {"step_total": [[7, 7]]})
    ]
    assert other.messages == []


def test_a_device_cannot_forge_receipts(secure_broker: Mosquitto) -> None:
    dev = Client(secure_broker, "P001", "dev1")
    try:
        forged = b'{"v":1,"t_ns":1794304800000000000,"seqs":{"accel":[[0,9]]},"dead":[]}'
        assert dev.publish("adh/site1/P001/dev2/receipt", forged) == NOT_AUTHORIZED
        assert dev.publish("adh/site1/P001/dev1/receipt", forged) == NOT_AUTHORIZED
    finally:
        dev.close()
