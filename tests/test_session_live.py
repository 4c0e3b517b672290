"""Live sessions: the counter's feedback on recordings with known counts, gaps, and the MQTT
service end to end through a real Mosquitto."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from adherence.live_plans import CarePlanPlanner, plan_target
from adherence.plan import load_plans
from devices.frame import Frame, StreamKind
from devices.mqtt_wire import encode_imu_frame, encode_session_event, topic_for
from devices.recording import Recording, read_recording
from ingest.mqtt_settings import MqttSettings
from ingest.session import LiveSession, Target
from ingest.session_mqtt import SessionService, SessionServiceSettings
from ingest.store import Store
from tests.services import Mosquitto, wait_until
from tests.support.running import running

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
BRIDGE = "ex-P001-2026-11-09-bridge"  # synthetic, truth 2 sets of 10
SIT = "ex-P002-2026-11-10-sit_to_stand"  # synthetic, truth 2 sets of 10


def rec(name: str) -> Recording:
    return read_recording(SAMPLE / "recordings" / f"{name}.meta.json")


def accel_frames(r: Recording, n: int = 10) -> list[Frame]:
    return [f for f in r.frames(n) if f.stream is StreamKind.ACCEL]


def run_session(r: Recording, frames: list[Frame]) -> tuple[LiveSession, list[str]]:
    s = LiveSession(
        "s1", r.subject, r.device, r.meta["exercise"], int(r.t_ns[0]), target=Target(2, 10)
    )
    out = [s.start_feedback()]
    for f in frames:
        out += s.feed(f)
    out += s.finish(int(r.t_ns[-1]))
    return s, [fb.kind for fb in out]


def test_feedback_matches_known_counts_in_order() -> None:
    r = rec(BRIDGE)
    assert r.meta["truth"]["reps_per_set"] == [10, 10]
    s, kinds = run_session(r, accel_frames(r))
    assert kinds == ["session_start"] + ["rep"] * 10 + ["set_end"] + ["rep"] * 10 + [
        "set_end",
        "session_end",
    ]
    assert s.reps_per_set() == [10, 10]
    record = s.record()
    assert [len(x.reps) for x in record.sets] == [10, 10] and record.status == "complete"
    # repetitions lie inside the true set bounds
    truth = r.meta["truth"]["rep_bounds_ns"]
    assert truth[0][0] - 2e9 <= record.sets[0].reps[0].start_ns
    assert record.sets[1].reps[-1].end_ns <= truth[-1][1] + 2e9


def test_texts_say_rep_of_target() -> None:
    r = rec(BRIDGE)
    s = LiveSession("s1", r.subject, r.device, "bridge", int(r.t_ns[0]), target=Target(2, 10))
    texts = [fb.text() for f in accel_frames(r) for fb in s.feed(f)]
    assert texts[0] == "set 1 of 2 - repetition 1 of 10"
    assert texts[9] == "set 1 of 2 - repetition 10 of 10"
    assert texts[10] == "set 1 of 2 done: 10 repetitions"
    assert texts[11] == "set 2 of 2 - repetition 1 of 10"


def test_disconnect_mid_set_counting_continues_and_gap_recorded() -> None:
    r = rec(BRIDGE)
    frames = accel_frames(r)
    # drop 3 s of data (15 frames of 0.2 s) in the middle of set 1
    mid = int((r.meta["truth"]["rep_bounds_ns"][4][0] - r.t_ns[0]) / 200e6)
    kept = frames[:mid] + frames[mid + 15 :]
    s = LiveSession("s1", r.subject, r.device, "bridge", int(r.t_ns[0]), target=Target(2, 10))
    events = [fb for f in kept for fb in s.feed(f)] + s.finish(int(r.t_ns[-1]))
    gaps = [e for e in events if e.kind == "gap"]
    assert len(gaps) == 1 and abs(gaps[0].data["gap_s"] - 3.0) < 0.05
    assert s.gaps == [(frames[mid].start_ns, frames[mid + 15].start_ns)]
    reps = [e.data["rep"] for e in events if e.kind == "rep"]
    assert reps == list(range(1, len(reps) + 1))  # numbering carries on, never restarts
    # 3 s of a ~3.5 s/rep movement: at most one repetition can be lost, set 2 is intact
    assert 19 <= len(reps) <= 20 and s.reps_per_set()[1] == 10
    assert s.record().meta["gaps_ns"] == [[frames[mid].start_ns, frames[mid + 15].start_ns]]


def test_duplicate_frames_are_ignored() -> None:
    r = rec(BRIDGE)
    frames = accel_frames(r)
    doubled = [g for f in frames for g in (f, f)]
    s, _ = run_session(r, doubled)
    assert s.reps_per_set() == [10, 10]


def test_plan_target_from_care_plan() -> None:
    plans = load_plans(SAMPLE / "care_plans.json")
    assert plan_target(plans, "P001", "bridge", "core-a") == Target(2, 10)
    assert plan_target(plans, "P002", "sit_to_stand", None) == Target(2, 10)
    assert plan_target(plans, "P002", "bridge", None) == Target()
    assert plan_target(plans, "P999", "bridge", None) == Target()


# -- through the real broker ---------------------------------------------------------------------


class App:
    """The patient's app: listens to feedback (and publishes session events)."""

    def __init__(self, broker: Mosquitto, prefix: str) -> None:
        self.events: list[dict[str, object]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="app", protocol=mqtt.MQTTv5
        )
        self.client.on_message = lambda c, u, m: self.events.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe(f"{prefix}/+/+/+/feedback", qos=1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def of(self, session_id: str) -> list[dict[str, object]]:
        return [e for e in self.events if e["session_id"] == session_id]


def session_messages(
    r: Recording, prefix: str, sid: str, *, stop: bool = True
) -> Iterator[tuple[str, bytes]]:
    topic = topic_for(prefix, "clinic", r.subject, r.device, "session")
    yield topic, encode_session_event(0, "start", int(r.t_ns[0]), sid, r.meta["exercise"])
    acc = topic_for(prefix, "clinic", r.subject, r.device, "accel")
    for f in accel_frames(r, 10):
        assert f.fs_hz is not None
        yield acc, encode_imu_frame(StreamKind.ACCEL, f.seq, f.start_ns, f.fs_hz, f.values)
    if stop:
        yield topic, encode_session_event(1, "stop", int(r.t_ns[-1]), sid, r.meta["exercise"])


@pytest.fixture
def service(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[tuple[SessionService, Store]]:
    store = Store(tmp_path / "s.sqlite")
    svc = SessionService(
        SessionServiceSettings(
            MqttSettings(broker=mosquitto.url, prefix="live", client_id="sessions"),
            idle_timeout_s=2.0,
        ),
        store,
        CarePlanPlanner(load_plans(SAMPLE / "care_plans.json"), ["coach"]),
    )
    with running(svc.run):
        assert svc.subscribed.wait(15)
        yield svc, store
    store.close()


@pytest.fixture
def app(mosquitto: Mosquitto) -> Iterator[App]:
    """The patient's app on the service's ``live`` prefix, closed after the test."""
    client = App(mosquitto, "live")
    yield client
    client.close()


def _kinds(events: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(e["event"], e.get("set"), e.get("rep_in_set") or e.get("reps")) for e in events]


@pytest.mark.services
def test_two_patients_at_once_get_their_own_feedback_in_order(
    service: tuple[SessionService, Store], app: App
) -> None:
    svc, store = service
    a = list(session_messages(rec(BRIDGE), "live", "sa"))
    b = list(session_messages(rec(SIT), "live", "sb"))
    for i in range(max(len(a), len(b))):  # interleaved, as two homes would publish
        for msgs in (a, b):
            if i < len(msgs):
                app.publish(*msgs[i])
    assert wait_until(lambda: len(app.of("sa")) == 24 and len(app.of("sb")) == 24, timeout_s=30)
    expected = (
        [("session_start", None, None)]
        + [("rep", 1, k) for k in range(1, 11)]
        + [("set_end", 1, 10)]
        + [("rep", 2, k) for k in range(1, 11)]
        + [("set_end", 2, 10), ("session_end", None, None)]
    )
    for sid in ("sa", "sb"):
        events = app.of(sid)
        assert _kinds(events) == expected
        assert [e["rep"] for e in events if e["event"] == "rep"] == list(range(1, 21))
        end = events[-1]
        assert (end["status"], end["reps_total"], end["reps_per_set"], end["completion"]) == (
            "complete",
            20,
            [10, 10],
            1.0,
        )
        assert events[1]["reps_target"] == 10 and events[1]["sets_target"] == 2
    assert wait_until(lambda: svc.stats.finished == 2, timeout_s=10)
    stored = {s.session_id: s for s in store.sessions()}
    assert [len(x.reps) for x in stored["sa"].sets] == [10, 10]
    assert stored["sb"].subject == "P002" and stored["sb"].status == "complete"
    assert {r[0] for r in store.scores()} == {"P001", "P002"}
    assert store.outbox_size("coach") > 0


@pytest.mark.services
def test_app_vanishing_closes_the_session_after_the_timeout_and_keeps_it(
    service: tuple[SessionService, Store], app: App
) -> None:
    svc, store = service
    for topic, payload in session_messages(rec(BRIDGE), "live", "gone", stop=False):
        app.publish(topic, payload)
    assert wait_until(
        lambda: bool(app.of("gone")) and app.of("gone")[-1]["event"] == "session_end", 30
    )
    end = app.of("gone")[-1]
    assert end["status"] == "timeout" and end["reps_total"] == 20
    (kept,) = store.sessions("P001")
    assert kept.session_id == "gone" and kept.status == "timeout" and kept.reps == 20
    assert svc.stats.timed_out == 1


@pytest.mark.services
def test_stop_for_unknown_session_is_dead_lettered(
    service: tuple[SessionService, Store], app: App
) -> None:
    svc, store = service
    r = rec(BRIDGE)
    topic = topic_for("live", "clinic", r.subject, r.device, "session")
    app.publish(topic, encode_session_event(5, "stop", int(r.t_ns[0]), "nope", "bridge"))
    app.publish(topic, b"{not json")
    assert wait_until(lambda: svc.stats.dead_letters == 2, timeout_s=10)
    reasons = [d.reason for d in store.dead_letters("session:")]
    assert "not running: nope" in reasons[0] and "JSON" in reasons[1]


@pytest.mark.services
def test_serve_runs_live_sessions_from_its_config(tmp_path: Path, mosquitto: Mosquitto) -> None:
    import io

    from adherence.config import load_config
    from adherence.serve import serve

    (tmp_path / "serve.toml").write_text(
        f'store = "store.sqlite"\ncare_plans = "{SAMPLE / "care_plans.json"}"\n'
        f'[mqtt]\nbroker = "{mosquitto.url}"\nprefix = "svc"\nclient_id = "collector"\n'
        "[sessions]\nidle_timeout_s = 30\n[status]\ninterval_s = 0.2\n"
    )
    stop = threading.Event()
    out = io.StringIO()
    th = threading.Thread(
        target=serve,
        args=(load_config(tmp_path / "serve.toml"),),
        kwargs={"stop": stop, "out": out},
    )
    th.start()
    app = App(mosquitto, "svc")
    try:
        assert wait_until(lambda: "mqtt: connected=True" in out.getvalue(), 30), out.getvalue()
        msgs = list(session_messages(rec(BRIDGE), "svc", "srv"))

        # The service subscribes on its own: repeat the (idempotent) start until it answers.
        def started() -> bool:
            app.publish(*msgs[0])
            return bool(app.of("srv"))

        assert wait_until(started, 30, interval_s=0.5)
        for topic, payload in msgs[1:]:
            app.publish(topic, payload)
        assert wait_until(
            lambda: bool(app.of("srv")) and app.of("srv")[-1]["event"] == "session_end", 30
        )
        assert app.of("srv")[-1]["reps_per_set"] == [10, 10]
    finally:
        app.close()
        stop.set()
        th.join(30)
    with Store(tmp_path / "store.sqlite") as store:
        (s,) = store.sessions("P001")
        assert s.session_id == "srv" and s.reps == 20
        # the collector of the same service stored the raw frames too
        assert store.count("frames") == len(accel_frames(rec(BRIDGE)))


def _with_clocks(frames: list[Frame], jitter_ns: list[int], reset_at: int | None) -> list[Frame]:
    """The frames with a device clock (exact spacing; restarted at frame ``reset_at``) and an
    aligned UTC time that wobbles by ``jitter_ns`` per frame, as a clock estimate does."""
    from devices.frame import make_frame

    out = []
    for i, f in enumerate(frames):
        device = f.t_ns - frames[0].start_ns + 10**12
        if reset_at is not None and i >= reset_at:
            device = device - 10**12 + 5 * 10**9  # rebooted: device time starts near 0 again
        out.append(
            make_frame(
                f.subject,
                f.device,
                f.stream,
                f.t_ns + jitter_ns[i % len(jitter_ns)],
                f.values,
                fs_hz=f.fs_hz,
                seq=f.seq,
                device_t_ns=device,
            )
        )
    return out


@pytest.mark.parametrize("reset_at", [None, 300])
def test_continuity_follows_the_device_clock(reset_at: int | None) -> None:
    r = rec(BRIDGE)
    frames = _with_clocks(accel_frames(r), [0, 15_000_000, -12_000_000, 25_000_000], reset_at)
    s, kinds = run_session(r, frames)
    assert "gap" not in kinds and s.gaps == []
    assert s.reps_per_set() == [10, 10]
