"""Live counter: same repetitions as the batch counter on every real file, whatever the chunks."""

from __future__ import annotations

import numpy as np
import pytest

from devices.errors import InputError
from features.exercises import load_library
from features.reps import LiveRepCounter, RepEvent, RepResult, count_reps
from features.synthetic import synth_exercise_set, synth_session
from tests.support.reps_data import (
    REST_ACTIVITIES,
    MetaMotionRecording,
    load_metamotion,
    metamotion_dir,
    with_rest_activity,
)


def stream(
    accel: np.ndarray,
    gyro: np.ndarray | None,
    fs_hz: float,
    seed: int,
    max_chunk: int = 40,
    live: LiveRepCounter | None = None,
) -> tuple[list[RepEvent], LiveRepCounter]:
    rng = np.random.default_rng(seed)
    live = LiveRepCounter(fs_hz) if live is None else live
    events: list[RepEvent] = []
    i = 0
    while i < accel.shape[0]:
        k = int(rng.integers(0, max_chunk + 1))  # includes empty chunks
        g = None if gyro is None else gyro[i : i + k]
        events += live.update(accel[i : i + k], g)
        i += k
    events += live.finish()
    return events, live


@pytest.fixture(scope="module")
def metamotion() -> list[MetaMotionRecording]:
    if not metamotion_dir().is_dir():
        pytest.skip(f"shared dataset absent: {metamotion_dir()}")
    recs = load_metamotion()
    assert len(recs) >= 80  # the folder is there: every file must load
    return recs


def test_live_equals_batch_on_every_metamotion_file(metamotion: list[MetaMotionRecording]) -> None:
    mismatches = []
    for k, rec in enumerate(metamotion):
        batch = count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps)
        events, live = stream(rec.accel_g, rec.gyro_dps, rec.fs_hz, seed=k, max_chunk=30)
        same = (
            len(events) == batch.count == live.count
            and np.allclose([e.start_s for e in events], batch.start_s)
            and np.allclose([e.end_s for e in events], batch.end_s)
            and np.allclose([e.rom_deg for e in events], batch.rom_deg, equal_nan=True)
        )
        if not same:
            mismatches.append((rec.name, len(events), batch.count))
    assert mismatches == []


def test_live_equals_batch_on_a_synthetic_session_with_chunk_sizes() -> None:
    rec = synth_session("squat", [6, 7], rest_s=20.0, seed=3)
    batch = count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps)
    assert batch.count == 13
    for seed, max_chunk in [(0, 1), (1, 7), (2, 500), (3, 100000)]:
        events, _ = stream(rec.accel_g, rec.gyro_dps, rec.fs_hz, seed, max_chunk)
        assert [e.index for e in events] == list(range(13))
        assert np.allclose([e.start_s for e in events], batch.start_s)
        assert [e.set_index for e in events] == [0] * 6 + [1] * 7


def test_events_are_causal() -> None:
    rec = synth_session("bridge", [8], seed=1)
    events, _ = stream(rec.accel_g, None, rec.fs_hz, seed=0)
    assert len(events) == 8
    for e in events:
        assert e.emitted_at_s >= e.end_s > e.start_s
        assert e.duration_s == pytest.approx(e.end_s - e.start_s)
    # Default mode reports a bout's repetitions together once the movement has stopped for
    # bout_gap_s (4 s): after the set's last repetition, within that gap (plus 1 s).
    assert len({e.emitted_at_s for e in events}) == 1
    assert 0.0 < events[0].emitted_at_s - events[-1].end_s <= 4.0 + 1.0


def test_update_after_finish_raises() -> None:
    live = LiveRepCounter(50.0)
    live.update(np.zeros((10, 3)) + [0, 0, 1])
    assert live.finish() == []
    with pytest.raises(InputError, match=r"update\(\) after finish\(\)"):
        live.update(np.zeros((10, 3)))


def test_gyro_must_be_given_always_or_never() -> None:
    live = LiveRepCounter(50.0)
    live.update(np.zeros((10, 3)) + [0, 0, 1], np.zeros((10, 3)))
    with pytest.raises(InputError, match="every chunk or with none"):
        live.update(np.zeros((10, 3)) + [0, 0, 1])


@pytest.mark.parametrize(
    ("accel", "gyro", "match"),
    [
        (np.zeros((10, 2)), None, r"expected shape \(N, 3\)"),
        (np.full((10, 3), np.nan), None, "NaN"),
        (np.zeros((10, 3)), np.zeros((9, 3)), "chunk has 9 rows"),
    ],
)
def test_update_raises(accel: np.ndarray, gyro: np.ndarray | None, match: str) -> None:
    with pytest.raises(InputError, match=match):
        LiveRepCounter(50.0).update(accel, gyro)


def test_bad_sample_rate() -> None:
    with pytest.raises(InputError, match="sample rate"):
        LiveRepCounter(0.0)


def same_events(events: list[RepEvent], batch: RepResult) -> bool:
    return (
        len(events) == batch.count
        and np.allclose([e.start_s for e in events], batch.start_s)
        and np.allclose([e.end_s for e in events], batch.end_s)
        and np.allclose([e.rom_deg for e in events], batch.rom_deg, equal_nan=True)
    )


@pytest.mark.parametrize("exercise", sorted(load_library()))
def test_guided_live_equals_batch_and_counts_exactly(exercise: str) -> None:
    rec = synth_session(exercise, [6, 7], rest_s=25.0, seed=7)
    batch = count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps, profile=exercise, guided=True)
    assert batch.count == 13
    live = LiveRepCounter(rec.fs_hz, exercise, guided=True)
    events, _ = stream(rec.accel_g, rec.gyro_dps, rec.fs_hz, seed=3, max_chunk=30, live=live)
    assert same_events(events, batch)
    assert [e.set_index for e in events] == [0] * 6 + [1] * 7


def test_guided_live_equals_batch_with_activity_in_the_rests() -> None:
    for k, kind in enumerate(REST_ACTIVITIES):
        rec = with_rest_activity(synth_session("bridge", [6, 7], rest_s=40.0, seed=k), kind, k)
        batch = count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps, profile="bridge", guided=True)
        live = LiveRepCounter(rec.fs_hz, "bridge", guided=True)
        events, _ = stream(rec.accel_g, rec.gyro_dps, rec.fs_hz, seed=k, max_chunk=25, live=live)
        assert same_events(events, batch), kind


def test_guided_reports_the_first_repetitions_at_once() -> None:
    rec = synth_session("squat", [8, 8], rest_s=25.0, seed=2)
    normal, _ = stream(rec.accel_g, rec.gyro_dps, rec.fs_hz, seed=0)
    live = LiveRepCounter(rec.fs_hz, "squat", guided=True)
    guided, _ = stream(rec.accel_g, rec.gyro_dps, rec.fs_hz, seed=0, live=live)
    assert len(normal) == len(guided) == 16
    first_two = [0, 1, 8, 9]
    # Normal mode: the first repetitions wait for the third cycle (more than a period).
    assert all(normal[k].emitted_at_s - normal[k].end_s > 1.5 for k in first_two)
    # Guided: every repetition within 1 s of its end (stream time).
    assert all(e.emitted_at_s - e.end_s < 1.0 for e in guided)


@pytest.mark.parametrize("kind", ["quiet", "fidget", "water_bottle"])
@pytest.mark.parametrize("exercise", ["squat", "bridge", "hip_hinge"])
def test_guided_counts_no_false_repetition_in_rests(kind: str, exercise: str) -> None:
    rec = with_rest_activity(synth_session(exercise, [8, 8], rest_s=40.0, seed=1), kind, 1)
    res = count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps, profile=exercise, guided=True)
    true_start = np.array([a for a, _ in rec.rep_bounds_s])
    true_end = np.array([b for _, b in rec.rep_bounds_s])
    overlaps = [
        bool(np.any(np.minimum(true_end, b) - np.maximum(true_start, a) > 0))
        for a, b in zip(res.start_s, res.end_s, strict=True)
    ]
    assert all(overlaps)  # no repetition in a rest
    assert res.count == 16


@pytest.mark.parametrize(
    ("exercise", "kind", "seed"),
    [
        ("side_plank_hip_dip", "random_walk", 1),
        ("heel_raise", "random_walk", 0),
        ("heel_raise", "fidget", 1),
        ("bridge", "random_walk", 1),
        ("cat_cow", "random_walk", 1),
    ],
)
def test_guided_rest_movement_unlike_the_last_set_is_not_counted(
    exercise: str, kind: str, seed: int
) -> None:
    """Rest movements that passed the amplitude and period tests of a run (4, 2, 3, 2 and 1
    false repetitions before the guided axis and range-of-motion checks of run extensions, new
    runs and the earlier cycles a new run takes in) turn the segment far less, or far more,
    than the set before, or last longer than the exercise's repetitions (docs/reps.md)."""
    base = synth_session(exercise, [8, 10], rest_s=40.0, fs_hz=50.0, seed=seed)
    rec = with_rest_activity(base, kind, seed=seed)
    res = count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps, profile=exercise, guided=True)
    true_start = np.array([a for a, _ in rec.rep_bounds_s])
    true_end = np.array([b for _, b in rec.rep_bounds_s])
    false = [
        (round(a, 1), round(b, 1))
        for a, b in zip(res.start_s, res.end_s, strict=True)
        if not np.any(np.minimum(true_end, b) - np.maximum(true_start, a) > 0)
    ]
    assert false == []
    assert res.count == 18
    live = LiveRepCounter(rec.fs_hz, exercise, guided=True)
    events, _ = stream(rec.accel_g, rec.gyro_dps, rec.fs_hz, seed=seed, max_chunk=25, live=live)
    assert same_events(events, res)


def test_guided_needs_a_profile() -> None:
    with pytest.raises(InputError, match="guided mode needs the exercise profile"):
        LiveRepCounter(50.0, guided=True)


def test_rest_activity_moves_only_the_rests() -> None:
    rec = synth_session("bridge", [5, 5], rest_s=40.0, seed=0)
    (_, a_s), (b_s, _) = rec.set_bounds_s
    inside = (rec.t_s > a_s + 3.0) & (rec.t_s < b_s - 3.0)
    assert with_rest_activity(rec, "quiet").accel_g is not None
    for kind in REST_ACTIVITIES[1:]:
        moved = with_rest_activity(rec, kind, seed=0)
        changed = np.any(moved.accel_g != rec.accel_g, axis=1)
        assert np.all(~changed[~inside]) and np.any(changed[inside]), kind
        # A rotation keeps the magnitude of the specific force (no bounce unless standing).
        if kind != "stand_up":
            assert np.allclose(
                np.linalg.norm(moved.accel_g, axis=1), np.linalg.norm(rec.accel_g, axis=1)
            )
    with pytest.raises(ValueError, match="unknown rest activity"):
        with_rest_activity(rec, "dancing")


@pytest.mark.parametrize("exercise", sorted(load_library()))
def test_guided_events_within_half_a_second_of_the_end(exercise: str) -> None:
    """Guided latency in stream time (deterministic, not wall time): every repetition of a
    synthetic set is reported before the end of the stream, at most 0.5 s after its true end
    and at most 0.45 s after the end it reports (filter delay ~0.35 s + trough confirmation;
    the 0.15 s confirmation of the first guided version gave ~0.5 s)."""
    rec = synth_exercise_set(exercise, 8, seed=3)
    live = LiveRepCounter(rec.fs_hz, exercise, guided=True)
    events: list[RepEvent] = []
    for i in range(0, len(rec.t_s), 5):  # 5-sample frames, as the sensors send them
        events += live.update(rec.accel_g[i : i + 5], rec.gyro_dps[i : i + 5])
    assert len(events) == 8
    true_end = np.array([b for _, b in rec.rep_bounds_s])
    for ev in events:
        assert ev.emitted_at_s - ev.end_s <= 0.45
        k = int(np.argmin(np.abs(true_end - ev.end_s)))
        assert ev.emitted_at_s - true_end[k] <= 0.5
