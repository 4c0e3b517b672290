"""From a real temporary store to outcomes, component figures and the dose-response row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from adherence.plan import CarePlan, local_midnight_ns, parse_plans
from adherence.programme_data import detail_fields, evaluate_programme, load_inputs
from adherence.scoring import score_plan
from devices.frame import make_frame
from devices.mqtt_wire import DeviceEvent
from features.synthetic_programme import SAMPLE_COMPONENTS, SAMPLE_START, sample_programme_events
from ingest.mqtt_events import ensure_events_table, put_events
from ingest.store import Store

H_NS = 3600 * 10**9


def plan() -> CarePlan:
    doc = json.loads(
        (Path(__file__).resolve().parents[1] / "sample_data/care_plans.json").read_text()
    )
    doc["plans"][0]["components"] = SAMPLE_COMPONENTS
    return parse_plans(doc)[0]  # P001, starts on SAMPLE_START


def t(p: CarePlan, day: int, hour: float) -> int:
    return local_midnight_ns(SAMPLE_START + dt.timedelta(days=day), p.tz) + int(hour * H_NS)


def test_all_three_pain_sources_are_read(store: Store) -> None:
    p = plan()
    store.put_programme_events(sample_programme_events("P001"))
    # a symptom-stream report on day 15 (after the programme: ignored) and on day 2 at 08:00
    ts = np.array([t(p, 2, 8), t(p, 15, 8)], dtype=np.int64)
    store.put_frames(
        [make_frame("P001", "phone", "symptom", ts, np.array([9.0, 1.0]), fs_hz=None, seq=0)]
    )
    ensure_events_table(store)
    put_events(
        store,
        [
            DeviceEvent("s", "P001", "imu", "session_start", t(p, 9, 9), 0, "x1", "bridge", {"pain_before": 5.0}),
            DeviceEvent("s", "P001", "imu", "session_stop", t(p, 9, 9.5), 1, "x1", None, {"pain_after": 3.0}),
        ],
    )  # fmt: skip
    inputs = load_inputs(store, p, p.end_date)
    sources = [r.source for r in inputs.pain]
    assert sources.count("daily") == 14 + 1 and sources.count("session_before") == 1
    assert sources.count("session_after") == 1 and len(inputs.peg) == 2
    days = score_plan(p, [], {}, today=p.end_date + dt.timedelta(days=1))
    result = evaluate_programme(store, p, days)
    assert result is not None
    # day 2's value is the mean of its two daily reports: (6 + 9) / 2 = 7.5, so the baseline is
    # (6 + 6 + 7.5 + 6 + 5.5 + 5.5 + 4.5) / 7 = 41 / 7; the last 7 days are 24 / 7
    assert result.outcomes.pain.baseline == pytest.approx(41 / 7)
    assert result.outcomes.pain.last_7d == pytest.approx(24 / 7)
    assert result.outcomes.session_change_7d == pytest.approx(3.0 - 5.0)
    assert result.dose.items_read == 4 and result.dose.cbt_sessions == 2 and result.dose.posts == 2
    assert result.dose.mindfulness_sessions == 6 and result.dose.workouts_logged == 0
    last = result.days[-1]
    fields = detail_fields(last, result.outcomes)
    assert json.loads(json.dumps(fields)) == fields  # JSON-ready
    assert fields["components"]["education"]["adherence"] == 1.0
    assert fields["pain"]["baseline_days"][0] == SAMPLE_START.isoformat()
    assert "pain" not in detail_fields(result.days[0], result.outcomes)


def test_nothing_scored_is_none(store: Store) -> None:
    assert evaluate_programme(store, plan(), []) is None
