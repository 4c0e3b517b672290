"""The MQTT simulator into the real collector through a real Mosquitto."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from adherence.cli import main as mqtt_main
from adherence.cli.mqtt import REPLAY_SPEED
from devices.recording import read_recording
from ingest.mqtt_events import events
from ingest.mqtt_settings import MqttSettings
from ingest.mqtt_sim import (
    Confirmation,
    SimResult,
    device_status_topics,
    publish_messages,
    recording_messages,
    recording_status_topics,
    synthetic_messages,
)
from ingest.store import Store
from tests.mqtt_helpers import REPO, T0_NS, running_collector, start_simulator
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services
RECORDINGS = REPO / "sample_data" / "recordings"


def test_synthetic_patients_arrive_complete_with_status(broker: Mosquitto, store: Store) -> None:
    s = MqttSettings(broker=broker.url, client_id="sim-test")
    n_dev, n_frames = 3, 8  # 8 frames of 25 samples at 50 Hz = 4 s per device
    with running_collector(s, store) as c:
        result = publish_messages(
            MqttSettings(broker=broker.url, client_id="sim"),
            synthetic_messages("adh", n_dev, 50.0, 25, n_frames, t0_ns=T0_NS),
            device_status_topics("adh", n_dev),
            speed=0,
        )
        # 24 accel frames + 4 step totals per device + online and offline status per device
        assert result.messages == n_dev * (n_frames + 4)
        assert result.samples == n_dev * (n_frames * 25 + 4)
        assert wait_until(lambda: c.stats.messages == result.messages + 2 * n_dev, 30), c.stats
    for d in range(n_dev):
        subject = f"S{d:04d}"
        frames = list(store.frames(subject=subject, stream="accel"))
        assert [f.seq for f in frames] == list(range(n_frames))
        assert [f.start_ns for f in frames] == [T0_NS + r * 500_000_000 for r in range(n_frames)]
        t, v = store.read_stream(subject, "accel")
        assert t.tolist() == [T0_NS + i * 20_000_000 for i in range(n_frames * 25)]
        assert abs(float(v[:, 2].mean()) - 1.0) < 0.1  # gravity on z
        t, steps = store.read_stream(subject, "step_total")
        assert t.tolist() == [T0_NS + k * 1_000_000_000 for k in (1, 2, 3, 4)]
        assert steps[:, 0].tolist() == [1.0, 3.0, 5.0, 7.0]  # int(1.8 * k)
        states = [e.detail["state"] for e in events(store, subject=subject, kind="status")]
        assert states == ["online", "offline"]


def test_replayed_recordings_match_the_files(
    broker: Mosquitto, store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    for name in ("ex-P002-2026-11-12-sit_to_stand", "ped-P001"):
        for suffix in (".csv.gz", ".meta.json"):
            shutil.copy(RECORDINGS / f"{name}{suffix}", folder)
    ex = read_recording(folder / "ex-P002-2026-11-12-sit_to_stand.meta.json")
    ped = read_recording(folder / "ped-P001.meta.json")
    s = MqttSettings(broker=broker.url, client_id="replay-test")
    with running_collector(s, store) as c:
        result = publish_messages(
            MqttSettings(broker=broker.url, client_id="replay"),
            recording_messages("adh", folder),
            recording_status_topics("adh", folder),
            speed=0,
        )
        # ceil(1619/50) x (accel, gyro) + ceil(854/50), and a session start and stop
        assert result.messages == 2 * 33 + 18 + 2
        assert wait_until(lambda: c.stats.frames == result.messages - 2, 30), c.stats
        assert wait_until(lambda: c.stats.events == 2 + 4, 30), c.stats  # + status x 2 devices
    t, acc = store.read_stream("P002", "accel", device="P002-imu")
    assert t.tolist() == ex.t_ns.tolist()
    np.testing.assert_array_equal(acc, ex.accel_g.astype(np.float32).astype(np.float64))
    _, gyr = store.read_stream("P002", "gyro")
    assert ex.gyro_dps is not None
    np.testing.assert_array_equal(gyr, ex.gyro_dps.astype(np.float32).astype(np.float64))
    t, steps = store.read_stream("P001", "step_total")
    assert t.tolist() == ped.t_ns.tolist()
    assert steps.tolist() == ped.data.tolist()
    start, stop = [e for e in events(store, subject="P002") if e.kind.startswith("session")]
    assert (start.kind, start.t_ns, stop.kind, stop.t_ns) == (
        "session_start",
        int(ex.t_ns[0]),
        "session_stop",
        int(ex.t_ns[-1]),
    )
    assert start.session_id == stop.session_id == ex.meta["session_id"]
    assert (start.exercise, start.device) == (ex.meta["exercise"], "P002-imu")


def test_bare_sensor_replay_sends_no_session_events() -> None:
    msgs = list(recording_messages("adh", RECORDINGS, session_events=False))
    framed = list(recording_messages("adh", RECORDINGS))
    n_ex = len(list(RECORDINGS.glob("ex-*.meta.json")))
    assert not any(m.topic.endswith("/session") for m in msgs)
    sessions = [m for m in framed if m.topic.endswith("/session")]
    assert len(sessions) == 2 * n_ex
    assert framed[0].topic.endswith("/session") and b'"start"' in framed[0].payload
    # like an app, the replay also sends the apps' programme events kept beside the
    # recordings: one payload per line of sample_data/programme/<subject>.programme.jsonl
    programme = [m for m in framed if m.topic.endswith("/programme")]
    lines = [
        line
        for f in sorted((RECORDINGS.parent / "programme").glob("*.programme.jsonl"))
        for line in f.read_bytes().splitlines()
        if line.strip()
    ]
    assert [m.payload for m in programme] == lines
    assert {m.topic for m in programme} == {
        "adh/sample/P001/app-1/programme",
        "adh/sample/P002/app-1/programme",
    }
    assert len(framed) - len(msgs) == len(sessions) + len(programme)


def test_last_will_reports_a_killed_device_offline(broker: Mosquitto, store: Store) -> None:
    s = MqttSettings(broker=broker.url, client_id="will-test")
    with running_collector(s, store):
        sim = start_simulator(
            broker.url,
            *("--devices", "1", "--duration", "600", "--client-id", "dying"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_until(lambda: len(events(store, kind="status")) == 1, 30)
            assert wait_until(lambda: store.count("frames") >= 1, 30)
            sim.send_signal(signal.SIGKILL)
            sim.wait(20)
            assert wait_until(lambda: len(events(store, kind="status")) == 2, 30)
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait(20)
    online, offline = events(store, kind="status")
    assert online.device == offline.device == "S0000-imu"
    assert (online.detail, offline.detail) == ({"state": "online"}, {"state": "offline"})


def test_simulate_command(
    broker: Mosquitto, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_collector(MqttSettings(broker=broker.url, client_id="cli-test"), store) as c:
        code = mqtt_main(
            [
                "simulate",
                "mqtt",
                "--broker",
                broker.url,
                "--devices",
                "2",
                "--duration",
                "1",
                "--speed",
                "0",
                "--connections",
                "1",
            ]
        )
        assert code == 0
        assert wait_until(lambda: c.stats.frames == 4, 30), c.stats
    out, err = capsys.readouterr()
    assert "published 4 messages, 102 samples" in out
    assert err.splitlines()[-1].startswith("simulate: 4 messages in ")  # the progress line
    gw = list(events(store, kind="status"))
    assert [(e.subject, e.device) for e in gw] == [("gateway", "gw-0")] * 2


def test_replay_speed_default_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        mqtt_main(["simulate", "mqtt", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{REPLAY_SPEED:g} for --recordings" in text and "--no-session-events" in text
    # the sample data replays in under a minute at that speed
    last = list(recording_messages("adh", RECORDINGS))[-1]
    assert last.at_s / REPLAY_SPEED < 60


def test_commands_report_bad_options_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert mqtt_main(["collect", "mqtt", "--broker", "http://x", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("adherence: error: setting at broker: must be mqtt://")
        and err.count("\n") == 1
    )
    assert mqtt_main(["simulate", "mqtt", "--broker", "mqtt://127.0.0.1:1", "--devices", "0"]) == 2
    assert "devices, rate" in capsys.readouterr().err


def test_messages_nobody_received_are_resent_after_the_timeout(
    broker: Mosquitto, store: Store
) -> None:
    """No collector session exists while the simulator publishes (the broker drops everything):
    the messages stay unconfirmed and go out again after ``resend_after_s`` until a collector
    has stored them; each is stored once."""
    sent = threading.Event()
    results: list[SimResult] = []

    def progress(n: int, elapsed_s: float) -> None:
        if n == 2 * (4 + 2):  # 2 devices x (4 frames + 2 step totals)
            sent.set()

    def publish() -> None:
        results.append(
            publish_messages(
                MqttSettings(broker=broker.url, client_id="late"),
                synthetic_messages("adh", 2, 50.0, 25, 4, t0_ns=T0_NS),
                device_status_topics("adh", 2),
                speed=0,
                on_progress=progress,
                confirm=Confirmation(resend_after_s=1.0, timeout_s=120.0),
            )
        )

    th = threading.Thread(target=publish, daemon=True)
    th.start()
    assert sent.wait(60)
    with running_collector(MqttSettings(broker=broker.url, client_id="late-collector"), store):
        th.join(150)
        assert not th.is_alive()
    (result,) = results
    assert (result.messages, result.unconfirmed, result.refused) == (12, 0, 0)
    assert result.resent >= 12 and result.receipts >= 1
    for subject in ("S0000", "S0001"):
        assert [f.seq for f in store.frames(subject=subject, stream="accel")] == [0, 1, 2, 3]
        assert [f.seq for f in store.frames(subject=subject, stream="step_total")] == [0, 1]


def test_simulate_without_a_collector_names_what_was_not_confirmed(
    broker: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "mqtt", "--broker", broker.url, "--devices", "1", "--duration", "2"]
    argv += ["--speed", "0", "--quiet", "--confirm-timeout", "1", "--buffer", "2"]
    assert mqtt_main(argv) == 1
    out, err = capsys.readouterr()
    # frame 0 (50 samples), step total 0, frame 1, step total 1: the buffer of 2 refuses the
    # last two, and nobody confirms the first two
    assert "published 2 messages, 51 samples" in out
    assert err.splitlines() == [
        "simulate: 2 messages refused: the buffer of unconfirmed messages was full (--buffer)",
        "simulate: 2 messages not confirmed by a collector within 1 s"
        " (is `adherence collect mqtt` running?)",
    ]
