"""Live counter: same repetitions as the batch counter on every real file, whatever the chunks."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.reps_common import MetaMotionRecording, load_metamotion, metamotion_dir
from devices.errors import InputError
from features.live import LiveRepCounter, RepEvent
from features.reps import count_reps
from features.synthetic import synth_session


def stream(
    accel: np.ndarray, gyro: np.ndarray | None, fs_hz: float, seed: int, max_chunk: int = 40
) -> tuple[list[RepEvent], LiveRepCounter]:
    rng = np.random.default_rng(seed)
    live = LiveRepCounter(fs_hz)
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
    # From the third repetition on, a repetition is reported within 1 s of its own end.
    assert all(e.emitted_at_s - e.end_s < 1.0 for e in events[2:])


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
