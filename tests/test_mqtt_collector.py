"""The MQTT collector against a real Mosquitto, with the real paho on both ends."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from devices.errors import ConfigError
from devices.mqtt_wire import (
    encode_imu_frame,
    encode_json_samples,
    encode_session_event,
    encode_status,
)
from ingest.errors import CollectorError
from ingest.mqtt_events import events
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store
from tests.mqtt_helpers import (
    BROKER_CONF,
    T0_NS,
    CollectorProcess,
    CollectorThread,
    Publisher,
    make_tls_files,
    running_collector,
)
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services

TOPIC = "adh/site1/P001/dev1/accel"


def frame_values(seq: int, n: int = 25) -> np.ndarray:
    """Exactly representable test values (multiples of 1/4096 g) that identify the frame."""
    base = np.arange(n * 3, dtype=np.float64).reshape(n, 3) / 4096
    return base + seq / 64


def frame_payload(seq: int, n: int = 25) -> bytes:
    return encode_imu_frame("accel", seq, T0_NS + seq * 500_000_000, 50.0, frame_values(seq, n))


def assert_stream_exactly(store: Store, n_frames: int, device: str = "dev1") -> None:
    raw = sqlite3.connect(store.path)  # counted independently of the store's own reads
    rows = raw.execute(
        "SELECT seq, COUNT(*) FROM frames WHERE device=? AND stream='accel' GROUP BY seq",
        (device,),
    ).fetchall()
    raw.close()
    counts = dict(rows)
    assert sorted(counts) == list(range(n_frames)), "missing or extra sequence numbers"
    assert set(counts.values()) == {1}, "a frame was stored twice"
    for f in store.frames(device=device, stream="accel"):
        np.testing.assert_array_equal(f.values, frame_values(f.seq))
        assert f.start_ns == T0_NS + f.seq * 500_000_000


def settings_for(broker: Mosquitto, **kw: object) -> MqttSettings:
    kw.setdefault("client_id", "collector-test")
    return MqttSettings(broker=broker.url, **kw)  # type: ignore[arg-type]


def test_stores_frames_events_and_acknowledges(broker: Mosquitto, store: Store) -> None:
    with running_collector(settings_for(broker), store) as c:
        pub = Publisher(broker.port)
        for seq in range(3):
            pub.publish(TOPIC, frame_payload(seq))
        pub.publish("adh/site1/P001/ped1/step_total", encode_json_samples(0, [(T0_NS, 1520.0)]))
        pub.publish("adh/site1/P001/app/symptom", encode_json_samples(0, [(T0_NS, 4.0)]))
        pub.publish(
            "adh/site1/P001/app/session", encode_session_event(0, "start", T0_NS, "s1", "bridge")
        )
        pub.client.publish("adh/site1/P001/dev1/status", encode_status("online", T0_NS), 1, True)
        pub.publish("adh/site1/P001/dev1/feedback", b'{"v":1,"event":"rep"}')  # server's own
        pub.wait_all()
        assert wait_until(lambda: c.stats.messages == 8, 60), c.stats
        pub.close()
    assert c.stats.acked == 8 and c.stats.frames == 5 and c.stats.events == 2
    assert c.stats.ignored == 1 and c.stats.dead_letters == 0
    assert_stream_exactly(store, 3)
    t, v = store.read_stream("P001", "step_total")
    assert t.tolist() == [T0_NS] and v.tolist() == [[1520.0]]
    t, v = store.read_stream("P001", "symptom")
    assert v.tolist() == [[4.0]]
    (start,) = events(store, kind="session_start")
    assert (start.subject, start.session_id, start.exercise, start.t_ns) == (
        "P001",
        "s1",
        "bridge",
        T0_NS,
    )
    (status,) = events(store, kind="status")
    assert status.detail == {"state": "online"} and status.device == "dev1"


def test_bad_payloads_are_dead_lettered_acked_and_never_stop_it(
    broker: Mosquitto, store: Store
) -> None:
    bad = [
        ("adh/site1/P001/dev1/step_total", b'{"v":1,"seq":1,"samples":', "invalid JSON"),
        ("adh/site1/P001/dev1/accel", frame_payload(0)[:30], "truncated samples: 30 of 328"),
        ("adh/site1/P001/dev1/accel", frame_payload(0) + b"\x00\x00", "2 trailing bytes"),
        ("adh/site1/P001/dev1/step_total", b'{"v":9,"seq":1,"samples":[]}', "'v' must be 1"),
        ("adh/site1/P001/dev1/temperature", b"{}", "unknown stream 'temperature'"),
        ("adh/site1/P001/dev1/accel", b"\x00" * 5000, "5000 bytes exceeds the limit of 1024"),
        ("adh/site1/P001/app/symptom", encode_json_samples(0, [(T0_NS, 12.0)]), "0-10, got 12"),
    ]
    s = settings_for(broker, max_payload_bytes=1024)
    with running_collector(s, store) as c:
        pub = Publisher(broker.port)
        for topic, payload, _ in bad:
            pub.publish(topic, payload)
        pub.publish(TOPIC, frame_payload(0))
        pub.wait_all()
        assert wait_until(lambda: c.stats.messages == len(bad) + 1, 60), c.stats
        pub.close()
    assert c.stats.dead_letters == len(bad) and c.stats.acked == len(bad) + 1
    letters = store.dead_letters("mqtt:")
    assert len(letters) == len(bad)
    for letter, (topic, payload, reason) in zip(letters, bad, strict=True):
        assert letter.source == f"mqtt:{topic}"
        assert reason in letter.reason
        assert letter.context["size"] == len(payload)
        assert letter.payload == payload[:1024]
    assert_stream_exactly(store, 1)
    # Everything was acknowledged: a restart with the same session gets nothing again.
    with running_collector(s, store) as again:
        pub = Publisher(broker.port, "probe")
        pub.publish(TOPIC, frame_payload(1))
        pub.wait_all()
        assert wait_until(lambda: again.stats.messages >= 1, 60)
        pub.close()
    assert again.stats.messages == 1 and again.stats.dead_letters == 0


def test_duplicates_are_stored_once(broker: Mosquitto, store: Store) -> None:
    with running_collector(settings_for(broker), store) as c:
        pub = Publisher(broker.port)
        for seq in (0, 1, 1, 0, 2):
            pub.publish(TOPIC, frame_payload(seq))
        pub.wait_all()
        assert wait_until(lambda: c.stats.messages == 5, 60)
        pub.close()
    assert (c.stats.frames, c.stats.duplicates) == (3, 2)
    assert_stream_exactly(store, 3)


def test_out_of_order_frames_read_in_order_and_a_missing_one_is_a_gap(
    broker: Mosquitto, store: Store
) -> None:
    with running_collector(settings_for(broker, reorder_timeout_s=2.0), store) as c:
        pub = Publisher(broker.port)
        for seq in (0, 2, 1, 4, 5):
            pub.publish(TOPIC, frame_payload(seq))
        pub.wait_all()
        assert wait_until(lambda: c.stats.gaps >= 1, 30), c.stats
        pub.close()
    assert [f.seq for f in store.frames(device="dev1")] == [0, 1, 2, 4, 5]
    (gap,) = store.gaps()
    last_of_2 = T0_NS + 2 * 500_000_000 + 24 * 20_000_000
    assert (gap.device, gap.stream, gap.subject) == ("dev1", "accel", "P001")
    assert (gap.start_ns, gap.end_ns) == (last_of_2, T0_NS + 4 * 500_000_000)
    assert "seq 3..3" in gap.reason


def test_nothing_is_acknowledged_when_the_commit_fails(broker: Mosquitto, tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    impatient = Store(path, timeout_s=0.5)
    first = CollectorThread(settings_for(broker), impatient).start()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the store: every commit fails
    try:
        pub = Publisher(broker.port)
        for seq in range(5):
            pub.publish(TOPIC, frame_payload(seq))
        pub.wait_all()
        first.thread.join(30)
        assert isinstance(first.error, CollectorError)
        assert "commit failed, nothing acknowledged" in str(first.error)
        assert first.collector.stats.acked == 0
        assert first.collector.stats.receipts == 0  # receipts only after a commit
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        impatient.close()
    store = Store(path)
    with running_collector(settings_for(broker), store) as again:  # same session
        assert wait_until(lambda: again.stats.frames == 5, 30), again.stats
        assert again.stats.receipts >= 1
        pub.close()
    assert_stream_exactly(store, 5)
    store.close()


def _publish_paced(pub: Publisher, seqs: range, gate: threading.Event | None, at: int) -> None:
    for seq in seqs:
        if gate is not None and seq == at:
            assert gate.wait(60)
        pub.publish(TOPIC, frame_payload(seq))


def test_broker_restart_mid_stream_loses_nothing(broker: Mosquitto, store: Store) -> None:
    n = 300
    with running_collector(settings_for(broker), store) as c:
        pub = Publisher(broker.port)
        for seq in range(100):
            pub.publish(TOPIC, frame_payload(seq))
        assert wait_until(lambda: c.stats.frames >= 50, 30)
        broker.restart()  # persistence on: the collector's session and queue survive
        assert wait_until(lambda: pub.connects >= 2, 30)
        for seq in range(100, n):
            pub.publish(TOPIC, frame_payload(seq))
        pub.wait_all(90)
        assert wait_until(lambda: c.stats.frames == n, 60), c.stats
        pub.close()
    assert c.stats.connects >= 2
    assert_stream_exactly(store, n)
    assert store.dead_letters() == []


def test_resubscribes_when_the_broker_lost_its_state(broker: Mosquitto, store: Store) -> None:
    with running_collector(settings_for(broker), store) as c:
        broker.stop()
        for f in broker.workdir.glob("broker.db*"):
            f.unlink()
        broker.start()
        assert wait_until(lambda: c.stats.connects >= 2 and c.subscribed.is_set(), 30), c.stats
        pub = Publisher(broker.port)
        for seq in range(5):
            pub.publish(TOPIC, frame_payload(seq))
        pub.wait_all()
        assert wait_until(lambda: c.stats.frames == 5, 60), c.stats
        pub.close()
    assert_stream_exactly(store, 5)


def test_sigkill_mid_stream_then_restart_stores_every_frame_once(
    broker: Mosquitto, tmp_path: Path
) -> None:
    n = 600
    store_path = tmp_path / "collect.sqlite"
    proc = CollectorProcess(tmp_path, broker.url, store_path, "kill-test")
    proc.start()
    reader = Store(store_path)
    try:
        pub = Publisher(broker.port)
        gate = threading.Event()
        sender = threading.Thread(target=_publish_paced, args=(pub, range(n), gate, 300))
        sender.start()
        assert wait_until(lambda: reader.count("frames") >= 100, 60), proc.text()
        proc.kill()  # SIGKILL: no clean shutdown, possibly mid-commit
        stored_at_kill = reader.count("frames")
        gate.set()  # the rest is published while the collector is down
        sender.join(60)
        pub.wait_all(60)
        pub.close()
        proc.start()  # same client id: the broker hands over what was not acknowledged
        assert wait_until(lambda: reader.count("frames") == n, 90), proc.text()
        assert proc.terminate() == 0, proc.text()  # SIGTERM is a clean stop
        assert stored_at_kill < n
        assert_stream_exactly(reader, n)
        assert reader.dead_letters() == []
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.kill()
        reader.close()


def test_shared_group_members_store_every_frame_exactly_once(
    broker: Mosquitto, tmp_path: Path
) -> None:
    n = 400
    path = tmp_path / "shared.sqlite"
    stores = [Store(path), Store(path)]
    members = [
        CollectorThread(
            MqttSettings(
                broker=broker.url,
                client_id=f"member-{i}",
                group="collectors",
                session_expiry_s=60,
                reorder_timeout_s=2.0,
            ),
            stores[i],
        ).start()
        for i in range(2)
    ]
    try:
        pub = Publisher(broker.port)
        for seq in range(n):
            pub.publish(TOPIC, frame_payload(seq))
        pub.wait_all()
        assert wait_until(lambda: stores[0].count("frames") == n, 60)
        # let both members pass their reorder timeout: neither may report a gap
        assert wait_until(lambda: all(m.collector.stats.reorder_pending == 0 for m in members), 30)
        # The group also shares the members' receipts (No Local is not allowed on a shared
        # subscription): each reaches one member, which skips it.
        stats = [m.collector.stats for m in members]
        assert wait_until(lambda: sum(s.ignored for s in stats) == sum(s.receipts for s in stats))
        pub.close()
    finally:
        for m in members:
            m.close()
    got = [m.collector.stats.messages - m.collector.stats.ignored for m in members]
    assert sum(got) == n and min(got) > 0, got
    assert_stream_exactly(stores[0], n)
    assert stores[0].gaps() == []
    for s in stores:
        s.close()


def test_password_from_env_and_refused_credentials(tmp_path: Path, store: Store) -> None:
    pwfile = tmp_path / "passwd"
    pwfile.write_text("")
    subprocess.run(
        ["mosquitto_passwd", "-b", str(pwfile), "coach", "s3cret"], check=True, capture_output=True
    )
    broker = Mosquitto(
        tmp_path / "auth",
        extra_conf=BROKER_CONF + f"allow_anonymous false\npassword_file {pwfile}\n",
    )
    broker.start()
    try:
        secret = tmp_path / "secret.txt"
        secret.write_text("s3cret\n")
        ok = settings_for(broker, username="coach", password_file=str(secret))
        with running_collector(ok, store) as c:
            assert c.stats.connected
        wrong = tmp_path / "wrong.txt"
        wrong.write_text("nope\n")
        bad = CollectorThread(
            settings_for(broker, username="coach", password_file=str(wrong)), store
        )
        with pytest.raises(CollectorError, match="refused the connection"):
            bad.start()
        bad.stop.set()
        bad.thread.join(30)
    finally:
        broker.stop()


def test_tls_with_a_private_ca(tmp_path: Path, store: Store) -> None:
    ca, cert, key = make_tls_files(tmp_path / "tls")
    broker = Mosquitto(
        tmp_path / "tls-broker",
        extra_conf=BROKER_CONF + f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n",
    )
    broker.start()
    try:
        s = MqttSettings(broker=f"mqtts://127.0.0.1:{broker.port}", tls_ca=str(ca))
        assert s.tls
        with running_collector(s, store) as c:
            pub = Publisher(broker.port, tls_ca=str(ca))
            pub.publish(TOPIC, frame_payload(0))
            pub.wait_all()
            assert wait_until(lambda: c.stats.frames == 1, 60), c.stats
            pub.close()
    finally:
        broker.stop()
    assert_stream_exactly(store, 1)


class TestSettings:
    def test_password_sources(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MQTT_PW_TEST", "from-env")
        assert MqttSettings("mqtt://h", password_env="MQTT_PW_TEST").password() == "from-env"
        f = tmp_path / "pw"
        f.write_text("from-file\nignored\n")
        assert MqttSettings("mqtt://h", password_file=str(f)).password() == "from-file"
        assert MqttSettings("mqtt://h").password() is None
        with pytest.raises(ConfigError, match="MQTT_PW_MISSING is not set"):
            MqttSettings("mqtt://h", password_env="MQTT_PW_MISSING").password()
        with pytest.raises(ConfigError, match="cannot read"):
            MqttSettings("mqtt://h", password_file=str(tmp_path / "none")).password()

    def test_urls_and_topics(self) -> None:
        s = MqttSettings("mqtts://broker.example:9000", prefix="a/b", group="g1")
        assert (s.host, s.port, s.tls) == ("broker.example", 9000, True)
        assert s.subscription() == "$share/g1/a/b/+/+/+/+"
        assert MqttSettings("mqtt://h").port == 1883
        assert MqttSettings("mqtts://h").port == 8883
        assert MqttSettings("mqtt://h").subscription() == "adh/+/+/+/+"

    @pytest.mark.parametrize(
        ("kw", "match"),
        [
            ({"broker": "http://h"}, "mqtt://host:port"),
            ({"broker": "mqtt://u:pw@h"}, "no password in the URL"),
            ({"broker": "mqtt://h:notaport"}, "bad port"),
            ({"prefix": "a/#"}, "plain topic prefix"),
            ({"group": "a/b"}, "invalid group"),
            ({"client_id": ""}, "invalid client id"),
            ({"password_env": "A", "password_file": "b"}, "not both"),
            ({"tls_cert": "c.pem"}, "needs its key"),
            ({"max_payload_bytes": 10}, "max_payload_bytes"),
            ({"receive_maximum": 70000}, "<= 65535"),
        ],
    )
    def test_invalid(self, kw: dict[str, object], match: str) -> None:
        args: dict[str, object] = {"broker": "mqtt://h", **kw}
        with pytest.raises(ConfigError, match=match):
            MqttSettings(**args)  # type: ignore[arg-type]


def test_receipts_name_exactly_what_was_committed(broker: Mosquitto, store: Store) -> None:
    """Receipts cover every stored frame once or more (a duplicate is confirmed again), the
    dead letter by its payload digest, and nothing else; the status message gets none."""
    import hashlib
    import json

    from devices.mqtt_wire import decode_receipt

    got: list[tuple[str, bytes]] = []
    watcher = Publisher(broker.port, client_id="receipt-watcher")
    watcher.client.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload)))
    watcher.client.subscribe("adh/+/+/+/receipt", qos=1)
    poison = b'{"v":1,"seq":1,"samples":[]}'
    with running_collector(settings_for(broker, receipt_interval_s=0.5), store) as c:
        pub = Publisher(broker.port)
        for seq in [*range(40), 10]:  # seq 10 twice
            pub.publish(TOPIC, frame_payload(seq))
        pub.publish("adh/site1/P001/dev2/step_total", poison)
        pub.publish("adh/site1/P001/dev1/status", encode_status("online", T0_NS))
        pub.wait_all()
        assert wait_until(lambda: c.stats.messages == 43, 30), c.stats
        assert wait_until(lambda: len(got) == c.stats.receipts and c.stats.receipts >= 2, 30)
        pub.close()
    watcher.close()
    seqs: list[int] = []
    dead: dict[str, list[str]] = {}
    for topic, payload in got:
        r = decode_receipt(payload)
        assert [s for s, _ in r.seqs] in ([], ["accel"])
        seqs += [s for a, b in r.ranges("accel") for s in range(a, b + 1)]
        dead.setdefault(topic, []).extend(r.dead)
    assert sorted(set(seqs)) == list(range(40))
    assert {t for t, _ in got} == {"adh/site1/P001/dev1/receipt", "adh/site1/P001/dev2/receipt"}
    assert dead["adh/site1/P001/dev2/receipt"] == [hashlib.sha256(poison).hexdigest()]
    assert dead["adh/site1/P001/dev1/receipt"] == []
    assert json.loads(got[0][1])["v"] == 1
