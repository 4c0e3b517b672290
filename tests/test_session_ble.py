"""A guided session over BLE, end to end: a simulated Movesense on BlueZoo serves a synthetic
exercise with known counts, the real bleak collector stores it, and the live session (as
``adherence session --ble`` wires it) gives feedback in order with the right numbers - also
when the sensor disconnects and reconnects mid-set."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from adherence.live_plans import CarePlanPlanner
from adherence.plan import load_plans
from devices.recording import write_recording
from features.synthetic import synth_session
from ingest.ble import BleCollector, BleSettings
from ingest.ble_sim import SimSettings
from ingest.session import GAP_MIN_S, Feedback, LiveSession, Target
from ingest.session_mqtt import save_session
from ingest.session_tee import SessionTee
from ingest.store import Store
from tests.ble_fixtures import PERIPHERAL, BlueZoo, bluezoo_fixture, peripheral  # noqa: F401

pytestmark = pytest.mark.ble

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
FS_HZ = 52.0


def _recording(tmp_path: Path) -> tuple[Path, int]:
    """A synthetic bridge session (2 sets of 4, 18 s rest) at the sensor's rate."""
    rec = synth_session("bridge", [4, 4], rest_s=18.0, lead_in_s=3.0, fs_hz=FS_HZ, seed=2)
    assert rec.reps_per_set == [4, 4]
    t = 1_794_000_000_000_000_000 + np.round(rec.t_s * 1e9).astype(np.int64)
    meta = write_recording(
        tmp_path,
        "bridge-4x2",
        {
            "subject": "P001",
            "device": "imu",
            "kind": "exercise",
            "fs_hz": FS_HZ,
            "exercise": "bridge",
            "synthetic": True,
        },
        t,
        np.hstack([rec.accel_g, rec.gyro_dps]),
    )
    return meta, rec.t_s.size


async def _session(
    zoo: BlueZoo, store: Store, recording: Path, n_samples: int, *, disconnect_at: int | None
) -> tuple[LiveSession, list[Feedback], BleCollector]:
    async with peripheral(
        zoo, SimSettings(profile="movesense", recording=recording, fs_hz=FS_HZ)
    ) as sim:
        session = LiveSession(
            "ble-1", "P001", PERIPHERAL, "bridge", time.time_ns() - 10**9, target=Target(2, 4)
        )
        feedback: list[Feedback] = [session.start_feedback()]
        tee = SessionTee(store, session, feedback.append)
        collector = BleCollector(
            BleSettings(
                device=PERIPHERAL,
                subject="P001",
                adapter="hci0",
                backoff_initial_s=0.2,
                backoff_cap_s=1.0,
            ),
            tee,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        deadline = time.monotonic() + 150
        try:
            disconnected = False
            # the recording plays once in real time (then the simulator loops it: stop there)
            while collector.status.samples < 2 * n_samples:  # accel + gyro samples
                assert time.monotonic() < deadline, "recording did not play through in time"
                if (
                    disconnect_at
                    and not disconnected
                    and collector.status.samples >= 2 * disconnect_at
                ):
                    await sim.force_disconnect()
                    disconnected = True
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    feedback += session.finish(time.time_ns())
    return session, feedback, collector


def test_ble_guided_session_feedback_in_order(
    bluezoo: BlueZoo, store: Store, tmp_path: Path
) -> None:
    recording, n = _recording(tmp_path)
    session, feedback, _ = asyncio.run(_session(bluezoo, store, recording, n, disconnect_at=None))
    texts = [fb.text() for fb in feedback]
    assert texts == [
        "session started: bridge",
        *[f"set 1 of 2 - repetition {k} of 4" for k in range(1, 5)],
        "set 1 of 2 done: 4 repetitions",
        *[f"set 2 of 2 - repetition {k} of 4" for k in range(1, 5)],
        "set 2 of 2 done: 4 repetitions",
        "session complete: 2 sets, 8 repetitions",
    ]
    save_session(store, session, CarePlanPlanner(load_plans(SAMPLE / "care_plans.json")))
    (stored,) = store.sessions("P001")
    assert [len(s.reps) for s in stored.sets] == [4, 4] and stored.source == f"live:{PERIPHERAL}"
    # the raw frames went to the store too (the tee passes everything on)
    assert store.count("frames") > 0


def test_ble_disconnect_mid_set_count_continues_and_gap_recorded(
    bluezoo: BlueZoo, store: Store, tmp_path: Path
) -> None:
    recording, n = _recording(tmp_path)
    # 3 s lead-in plus two of the first set's ~3.5 s repetitions
    session, feedback, collector = asyncio.run(
        _session(bluezoo, store, recording, n, disconnect_at=int(10.5 * FS_HZ))
    )
    assert collector.status.connections >= 2  # a reconnect attempt may fail and be retried
    kinds = [fb.kind for fb in feedback]
    # The reconnect on the virtual link loses a second or so of data when the machine is idle,
    # but may lose less than GAP_MIN_S on a busy one: then there is no gap to tell about.
    gap_events = [fb for fb in feedback if fb.kind == "gap"]
    assert len(gap_events) <= 1 and kinds[-1] == "session_end"
    assert all(fb.data["gap_s"] >= GAP_MIN_S for fb in gap_events)  # never "0.0 s"
    reps = [fb.data["rep"] for fb in feedback if fb.kind == "rep"]
    assert reps == list(range(1, len(reps) + 1))  # the count carries on after the reconnect
    gap_at = kinds.index("gap") if gap_events else len(kinds)
    before = kinds[:gap_at].count("rep")
    if gap_events:
        assert feedback[gap_at].data["reps_so_far"] == before >= 1  # counted as they ended
    # Repetitions done while the link was down are lost (how many depends on how long the
    # reconnect took); none is invented, and the second set is counted in full.
    assert 4 <= len(reps) <= 8 and session.reps_per_set()[-1] == 4
    save_session(store, session, CarePlanPlanner([]))
    assert len(session.gaps) == len(gap_events)
    gaps = [g for g in store.gaps(device=PERIPHERAL) if g.stream == "accel"]
    reasons = {g.reason for g in gaps}
    assert "disconnected" in reasons  # the collector always records the disconnect
    assert reasons <= {"disconnected", "no sensor data during a live session"}
    for g0, g1 in session.gaps:
        assert any(g.start_ns == g0 and g.end_ns == g1 for g in gaps)


def test_session_without_a_sensor_stores_nothing_and_fails(
    bluezoo: BlueZoo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16 item 3: no sensor present must not give "session complete: 0 sets" and a stored
    complete session; it says the sensor was not found, stores nothing and exits non-zero."""
    from adherence.cli import main

    path = tmp_path / "s.sqlite"
    code = main(
        [
            "session", "--ble", "AA:BB:CC:DD:EE:FF", "--subject", "P001", "--exercise", "bridge",
            "--duration", "3", "--store", str(path),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "session complete" not in captured.out
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("adherence: session not recorded: sensor AA:BB:CC:DD:EE:FF")
    with Store(path) as store:
        assert store.sessions("P001") == []
