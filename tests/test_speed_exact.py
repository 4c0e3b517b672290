"""The shortcuts that make reprocessing cheaper give exactly (bit for bit) what the long way gives.

Issue 18: each shortcut is compared here with the computation it replaces, on data where a
difference in the last bit would show.
"""

from __future__ import annotations

import numpy as np
import pytest

from devices.frame import make_frame
from features.finding import _CountedIn
from features.gram import gram3
from features.reps import count_reps
from features.reps.counter import count_reps_validated
from features.steps import resample_uniform
from features.synthetic import synth_exercise_set
from ingest.store import Store
from tests.support.frames import T0, accel_frame


def _windows(seed: int, channels_last: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5000, 3)) * rng.uniform(0.001, 1.0) + rng.normal(size=3)
    win = int(rng.integers(20, 300))
    starts = np.arange(0, x.shape[0] - win + 1, int(rng.integers(1, 15)))
    w = np.lib.stride_tricks.sliding_window_view(x, win, axis=0)[starts]  # (W, 3, win)
    if channels_last:
        w = x[starts[:, None] + np.arange(win)[None, :]]  # (W, win, 3), as the counter gathers
        return w - w.mean(axis=1, keepdims=True)
    return w - w.mean(axis=2, keepdims=True)


@pytest.mark.parametrize("seed", range(6))
def test_gram3_is_einsum_bit_for_bit(seed: int) -> None:
    a = _windows(seed, channels_last=False)
    assert np.array_equal(gram3(a), np.einsum("wit,wjt->wij", a, a))
    b = _windows(seed, channels_last=True)
    assert np.array_equal(gram3(b, channels_last=True), np.einsum("wti,wtj->wij", b, b))


def test_samples_on_the_grid_are_resampled_to_themselves() -> None:
    rng = np.random.default_rng(3)
    n, fs = 20_000, 50.0
    t = T0 + np.round(np.arange(n) * 1e9 / fs).astype(np.int64)
    v = rng.normal(size=(n, 3))
    t_out, out = resample_uniform(t, v, fs)
    assert np.array_equal(t_out, t) and np.array_equal(out, v) and out is not v
    # the interpolating path, which the shortcut skips, gives the same values
    rel = (t - t[0]).astype(np.float64) / 1e9
    grid = np.arange(n) / fs
    assert np.array_equal(np.column_stack([np.interp(grid, rel, v[:, j]) for j in range(3)]), v)
    # one sample off the grid: interpolated as before (not a copy of the input)
    t2 = t.copy()
    t2[5] += 3_000_000
    _, out2 = resample_uniform(t2, v, fs)
    assert out2.shape == v.shape and not np.array_equal(out2, v)


def test_count_reps_validated_is_count_reps() -> None:
    rec = synth_exercise_set("squat", 8, seed=2)
    a = count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps)
    b = count_reps_validated(np.asarray(rec.accel_g, dtype=np.float64), rec.fs_hz, rec.gyro_dps)
    assert a.count == b.count == 8
    for name in ("start_s", "end_s", "duration_s", "rom_deg"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    c = count_reps_validated(np.asarray(rec.accel_g, dtype=np.float64), rec.fs_hz, with_rom=False)
    assert np.array_equal(c.start_s, a.start_s) and np.isnan(c.rom_deg).all()


@pytest.mark.parametrize(("a_s", "b_s"), [(55.0, 95.0), (61.3, 80.7)])
def test_candidate_periods_give_the_counters_ranges_of_motion(a_s: float, b_s: float) -> None:
    rec = synth_exercise_set("squat", 8, seed=2)
    fs = rec.fs_hz
    pad = np.tile(np.asarray(rec.accel_g)[:1], (int(60 * fs), 1))
    acc = np.vstack([pad, rec.accel_g, pad])
    gyr = np.vstack([np.zeros_like(pad), rec.gyro_dps, np.zeros_like(pad)])
    counted = _CountedIn(acc, fs, gyr, None, a_s, b_s)
    # what the finder ran before: count_reps on the period's samples, with its gyroscope
    i0, i1 = int(a_s * fs), int(np.ceil(b_s * fs))
    ref = count_reps(acc[i0:i1], fs, gyr[i0:i1])
    assert ref.count >= 3 and len(counted.reps) == ref.count
    reps = counted.with_rom(range(ref.count))
    assert [r.rom_deg for r in reps] == ref.rom_deg.tolist()
    assert [r.start_s for r in reps] == (ref.start_s + i0 / fs).tolist()
    assert all(np.isnan(r.rom_deg) for r in counted.reps)  # not computed until asked


def test_read_stream_sorts_and_drops_repeats_only_when_needed(tmp_path: object) -> None:
    with Store(f"{tmp_path}/s.sqlite") as store:
        store.put_frames([accel_frame(2), accel_frame(0), accel_frame(1)])
        t, v = store.read_stream("P001", "accel")
        assert t.size == 150 and np.all(np.diff(t) == 20_000_000)
        assert v[:, 0].tolist() == [0.0] * 50 + [1.0] * 50 + [2.0] * 50
        assert t.flags.writeable and v.flags.writeable
        end = T0 + 3_000_000_000
        t2, v2 = store.read_stream("P001", "accel", start_ns=T0 + 20_000_000, end_ns=end)
        assert t2[0] == T0 + 20_000_000 and t2.size == 149 and v2.shape == (149, 3)
        # a frame overlapping two others (another seq, the same times): each time kept once,
        # the first in frame order (start time, seq), as before the shortcut
        tt = T0 + (25 + np.arange(50)) * 20_000_000
        vals = np.column_stack([np.full(50, 9.0), np.zeros(50), np.ones(50)])
        store.put_frames([make_frame("P001", "imu-1", "accel", tt, vals, fs_hz=50.0, seq=10)])
        t3, v3 = store.read_stream("P001", "accel")
        assert np.array_equal(t3, t)
        assert v3[:, 0].tolist() == [0.0] * 50 + [9.0] * 25 + [1.0] * 25 + [2.0] * 50
