"""The store's typed read queries (``ingest.store.reads``) against a real temporary store.

Every expected row is written by the test itself, so the answers are known exactly: ranges are
half-open [start_ns, end_ns) on the start time, days are inclusive, and rows come in the order
each method documents.
"""

from __future__ import annotations

import numpy as np

from devices.frame import make_frame
from ingest.store import (
    BoutRow,
    DeviceStreamRow,
    MinuteRow,
    RepetitionRow,
    RepRecord,
    SessionRecord,
    SetRecord,
    SetRow,
    Store,
    SummaryRow,
)

T0 = 1_794_000_000_000_000_000
S = 1_000_000_000
MIN = 60 * S


def _session(
    sid: str,
    subject: str,
    start_ns: int,
    reps_per_set: list[int],
    *,
    meta: dict[str, object] | None = None,
) -> SessionRecord:
    """A session of bridges: sets of 2 s repetitions from ``start_ns``, 30 s rest between."""
    sets = []
    t = start_ns
    for k, n in enumerate(reps_per_set):
        reps = tuple(RepRecord(t + i * 2 * S, t + (i + 1) * 2 * S, 2.0, 10.0 + i) for i in range(n))
        sets.append(SetRecord(k, t, t + n * 2 * S, reps))
        t += (n * 2 + 30) * S
    return SessionRecord(
        sid,
        subject,
        "bridge",
        start_ns,
        t,
        "core",
        "recording:SN-9",
        "complete",
        tuple(sets),
        dict(meta or {}),
    )


def _frame(subject: str, device: str, stream: str, seq: int, n: int, start_ns: int, **meta: object):
    t = start_ns + np.arange(n) * 20_000_000  # 50 Hz
    k = 3 if stream == "accel" else 1
    vals = np.ones((n, k))
    return make_frame(subject, device, stream, t, vals, fs_hz=50.0, seq=seq, meta=dict(meta))


def test_empty_store_reads_nothing(store: Store) -> None:
    assert store.all_subjects() == []
    assert store.raw_ids() == set()
    assert store.devices_of("P001", "accel") == []
    assert store.steps_minutes("P001", 0, 2**62) == []
    assert store.bouts("P001", 0, 2**62) == []
    assert store.summary_days("P001") == set()
    assert store.summaries("P001", "0000-00-00", "9999-99-99") == []
    assert store.daily_with_scores("P001", "0000-00-00", "9999-99-99") == []
    assert store.session_summaries("P001", 0, 2**62) == []
    assert store.sets_of("P001", 0, 2**62) == []
    assert store.repetitions_of("P001", 0, 2**62) == []
    assert store.device_streams("P001", 0, 2**62) == []
    assert store.decoders_of("imu-1") == []


def test_minutes_and_bouts_are_selected_by_start_in_half_open_range(store: Store) -> None:
    store.put_steps_minute("P001", [(T0, 10, 100.0, True), (T0 + MIN, 0, None, False)])
    store.put_steps_minute("P002", [(T0, 99, 99.0, True)])
    store.put_bouts("P001", [(T0, T0 + 90 * S, 150, 100.0), (T0 + 5 * MIN, T0 + 6 * MIN, 60, None)])
    assert store.steps_minutes("P001", T0, T0 + MIN + 1) == [
        MinuteRow(T0, 10, 100.0, True),
        MinuteRow(T0 + MIN, 0, None, False),
    ]
    assert store.steps_minutes("P001", T0 + 1, T0 + MIN) == []  # neither starts inside
    assert store.bouts("P001", T0, T0 + 5 * MIN) == [BoutRow(T0, T0 + 90 * S, 150, 100.0)]
    assert store.bouts("P001", T0 + 5 * MIN, T0 + 5 * MIN + 1) == [
        BoutRow(T0 + 5 * MIN, T0 + 6 * MIN, 60, None)
    ]


def test_summaries_days_are_inclusive_and_scores_join_by_day(store: Store) -> None:
    store.put_daily_summary(
        "P001",
        [
            ("2026-11-01", 5000, 700, 30, True),
            ("2026-11-02", 0, 0, 0, False),
            ("2026-11-03", 1, 2, 3, True),
        ],
    )
    store.put_score("P001", "2026-11-02", 42.5, {"flags": [{"code": "LOW_STEPS"}]})
    assert store.summary_days("P001") == {"2026-11-01", "2026-11-02", "2026-11-03"}
    got = store.summaries("P001", "2026-11-02", "2026-11-03")
    assert got == [
        SummaryRow("2026-11-02", 0, 0, 0, False),
        SummaryRow("2026-11-03", 1, 2, 3, True),
    ]
    daily = store.daily_with_scores("P001", "2026-11-01", "2026-11-02")
    assert [d.summary for d in daily] == [
        SummaryRow("2026-11-01", 5000, 700, 30, True),
        SummaryRow("2026-11-02", 0, 0, 0, False),
    ]
    assert [d.composite for d in daily] == [None, 42.5]
    assert [d.detail for d in daily] == [{}, {"flags": [{"code": "LOW_STEPS"}]}]


def test_sessions_sets_and_repetitions_are_counted_and_ordered(store: Store) -> None:
    late = _session("b-late", "P001", T0 + 3600 * S, [2])
    early = _session("a-early", "P001", T0, [3, 2], meta={"synthetic": True, "device": "SN-9"})
    other = _session("c-other", "P002", T0, [1])
    for s in (late, early, other):
        store.put_session(s)
    rows = store.session_summaries("P001", T0, T0 + 3600 * S + 1)
    assert [(r.session_id, r.n_sets, r.n_reps) for r in rows] == [
        ("a-early", 2, 5),
        ("b-late", 1, 2),
    ]
    assert rows[0].meta == {"synthetic": True, "device": "SN-9"}
    assert (rows[0].start_ns, rows[0].end_ns) == (early.start_ns, early.end_ns)
    assert (rows[0].exercise, rows[0].plan_entry, rows[0].status, rows[0].source) == (
        "bridge",
        "core",
        "complete",
        "recording:SN-9",
    )
    assert store.session_summaries("P001", T0 + 1, T0 + 3600 * S) == []
    sets = store.sets_of("P001", T0, T0 + 1)
    # set 0: 3 reps of 2 s from T0; set 1 starts after 3 * 2 s + 30 s rest
    assert sets == [
        SetRow("a-early", 0, T0, T0 + 6 * S, 3),
        SetRow("a-early", 1, T0 + 36 * S, T0 + 40 * S, 2),
    ]
    reps = store.repetitions_of("P001", T0, T0 + 1)
    assert [(r.set_index, r.rep_index) for r in reps] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert reps[4] == RepetitionRow("a-early", 1, 1, T0 + 38 * S, T0 + 40 * S, 2.0, 11.0)


def test_frames_inventory_devices_and_decoders(store: Store) -> None:
    store.put_frames(
        [
            _frame("P001", "imu-1", "accel", 0, 50, T0, decoder="witmotion"),
            _frame("P001", "imu-1", "accel", 1, 50, T0 + S, decoder="witmotion"),
            _frame("P001", "band-2", "step_total", 0, 10, T0, decoder="gatt_rsc"),
            _frame("P002", "imu-3", "accel", 0, 50, T0),
        ]
    )
    assert sorted(store.devices_of("P001", "accel")) == ["imu-1"]
    assert store.devices_of("P001", "step_total") == ["band-2"]
    assert store.all_subjects() == ["P001", "P002"]
    last = T0 + S + 49 * 20_000_000
    assert store.device_streams("P001", T0, T0 + 2 * S) == [
        DeviceStreamRow("band-2", "step_total", 50.0, 1, 10, T0, T0 + 9 * 20_000_000),
        DeviceStreamRow("imu-1", "accel", 50.0, 2, 100, T0, last),
    ]
    # a frame overlaps a range that starts before its end: only the second accel frame is after T0 + S
    assert store.device_streams("P001", T0 + S, T0 + 2 * S) == [
        DeviceStreamRow("imu-1", "accel", 50.0, 1, 50, T0 + S, last)
    ]
    assert store.decoders_of("imu-1") == ["witmotion"]
    assert store.decoders_of("imu-3") == []  # no decoder in its metadata


def test_raw_ids_cover_every_id_column_and_session_devices(store: Store) -> None:
    store.put_frames([_frame("P001", "imu-1", "accel", 0, 50, T0)])
    store.put_gap("imu-gap", "accel", T0, T0 + S, "dropped")
    store.put_session(_session("sess-1", "P002", T0, [1], meta={"device": "SN-77"}))
    store.put_daily_summary("P003", [("2026-11-01", 1, 1, 1, False)])
    assert store.raw_ids() == {"imu-1", "imu-gap", "P001", "P002", "sess-1", "SN-77", "P003"}
    assert store.all_subjects() == ["P001", "P002", "P003"]


def test_gaps_and_sessions_filter_only_on_the_given_fields(store: Store) -> None:
    store.put_gap("imu-1", "accel", T0 + 5 * S, T0 + 6 * S, "late", subject="P001")
    store.put_gap("imu-1", "accel", T0, T0 + S, "early", subject="P001")
    store.put_gap("imu-2", "accel", T0 + 2 * S, T0 + 3 * S, "other device", subject="P002")
    assert [g.reason for g in store.gaps()] == ["early", "other device", "late"]
    assert [g.reason for g in store.gaps(device="imu-1")] == ["early", "late"]
    assert [g.reason for g in store.gaps(subject="P002")] == ["other device"]
    assert store.gaps(device="imu-1", subject="P002") == []
    for sid, start in (("s0", T0), ("s1", T0 + 10 * S), ("s2", T0 + 20 * S)):
        store.put_session(_session(sid, "P001", start, [1]))
    assert [s.session_id for s in store.sessions("P001", T0 + 10 * S)] == ["s1", "s2"]
    assert [s.session_id for s in store.sessions("P001", None, T0 + 10 * S)] == ["s0"]
    assert [s.session_id for s in store.sessions(end_ns=T0 + 20 * S + 1)] == ["s0", "s1", "s2"]
