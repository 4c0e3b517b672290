"""One pass through real parts: paho → Mosquitto → collector → store → steps → score →
outbox → InfluxDB 1.6.7, read back with InfluxQL."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from adherence.influx_sink import InfluxV1Sink
from adherence.outbox import OutboxSender
from adherence.pipeline import derive
from adherence.plan import load_plans
from adherence.scoring import rescore
from devices.recording import read_recording
from ingest.mqtt_settings import MqttSettings
from ingest.mqtt_sim import publish_messages, recording_messages, recording_status_topics
from ingest.store import Store
from tests.mqtt_helpers import running_collector
from tests.services import InfluxDB16, Mosquitto, wait_until

pytestmark = pytest.mark.services

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
WALK = "walk-P001-2026-11-10"


def test_recording_reaches_influxdb_exactly(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB16
) -> None:
    rec_dir = tmp_path / "recordings"
    rec_dir.mkdir()
    for name in (WALK, "ped-P001"):
        for suffix in (".meta.json", ".csv.gz"):
            shutil.copy(SAMPLE / "recordings" / f"{name}{suffix}", rec_dir)

    store = Store(tmp_path / "store.sqlite")
    collecting = MqttSettings(broker=mosquitto.url, prefix="e2e", client_id="e2e-collector")
    with running_collector(collecting, store):
        messages = list(recording_messages("e2e", rec_dir, samples_per_frame=50))
        sent = publish_messages(
            MqttSettings(broker=mosquitto.url, prefix="e2e", client_id="e2e-sim"),
            iter(messages),
            recording_status_topics("e2e", rec_dir),
            speed=0,
        )
        assert sent.messages == len(messages)
        assert wait_until(lambda: store.count("frames") == len(messages), timeout_s=60)
    assert store.dead_letters() == []

    # Stored exactly what was sent: the phone's irregular samples on the nominal-rate grid
    # (float32 on the wire).
    walk = read_recording(rec_dir / f"{WALK}.meta.json").regularised()
    assert walk.is_uniform() and walk.t_ns.size > 30_000
    t_ns, acc = store.read_stream("P001", "accel")
    # Each frame rebuilds its times from its first time and the rate: within 1 ns of the grid.
    assert t_ns.size == walk.t_ns.size and int(np.max(np.abs(t_ns - walk.t_ns))) <= 1
    np.testing.assert_allclose(acc, walk.accel_g, atol=1e-6)
    ped = read_recording(rec_dir / "ped-P001.meta.json")
    t_ped, totals = store.read_stream("P001", "step_total")
    assert np.array_equal(t_ped, ped.t_ns) and np.array_equal(totals[:, 0], ped.data[:, 0])

    (plan,) = [p for p in load_plans(SAMPLE / "care_plans.json") if p.subject == "P001"]
    derive(store, "P001", plan.tz)
    # Daily steps come from the pedometer; its truth for 2026-11-10 is 6100 steps.
    (summary,) = store.summaries("P001", "2026-11-10", "2026-11-10")
    steps = summary.steps
    assert steps == ped.meta["truth"]["daily_steps"]["2026-11-10"] == 6100
    # The walk's steps, counted from the accelerometer, against its foot-switch truth (314).
    walk_steps = sum(b.steps for b in store.bouts("P001", 0, 2**62))
    assert abs(walk_steps - 314) <= 0.05 * 314

    rescore(store, [plan], today=dt.date(2026, 11, 22), sinks=["coach"])
    queued = store.outbox_size("coach")
    assert queued > 0
    influxdb.query("CREATE DATABASE coach")
    sender = OutboxSender(store, "coach", InfluxV1Sink(influxdb.url, "coach"))
    assert sender.drain(timeout_s=60) == 0
    assert store.dead_letters() == []

    res = influxdb.query(
        "SELECT composite, streak_days FROM adherence_daily WHERE subject='P001'", db="coach"
    )
    series = res["results"][0]["series"][0]  # type: ignore[index]
    got = {int(t): (c, s) for t, c, s in series["values"]}
    expected = {}
    for _, day, composite, detail in store.scores("P001"):
        start_ns, _ = plan.day_bounds_ns(dt.date.fromisoformat(day))
        expected[start_ns] = (composite, detail["streak_days"])
    assert got == expected and len(got) == 14

    res = influxdb.query(
        "SELECT steps FROM daily_activity WHERE subject='P001' AND time >= '2026-11-10T00:00:00Z'"
        " AND time < '2026-11-11T00:00:00Z'",
        db="coach",
    )
    assert res["results"][0]["series"][0]["values"][0][1] == 6100  # type: ignore[index]
    store.close()
