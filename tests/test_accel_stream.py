"""Streamed resampling, step counting and wear equal one-shot processing; derive reads in chunks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from adherence import accel_segments
from adherence.cohort_synth import _walk, cohort_plans, fill_subject
from adherence.found_sessions import FIND_OVERLAP_S, FIND_WINDOW_S, _windows
from adherence.pipeline import derive
from adherence.reprocess import subject_tables
from devices.frame import Frame, StreamKind
from features.accel_stream import SegmentDeriver, UniformResampler
from features.activity import detect_wear
from features.steps import count_steps, resample_uniform
from ingest.store import Store

T0 = 1_794_000_000_000_000_000  # 2026-11-06 21:20 UTC
NS_PER_S = 1_000_000_000


def _irregular(
    n: int, seed: int, holes: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """``n`` walking samples at about 50 Hz with jitter and ``holes`` pauses of 0.6-1.5 s."""
    rng = np.random.default_rng(seed)
    t = T0 + np.cumsum(rng.uniform(0.015, 0.025, n) * 1e9).astype(np.int64)
    for h in rng.choice(n - 1, holes, replace=False):
        t[h + 1 :] += int(rng.uniform(0.6, 1.5) * 1e9)
    return t, _walk(rng, n) + rng.normal(0, 0.02, (n, 3))


def _split(n: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    cuts = np.unique(np.r_[0, rng.integers(1, n, 12), n])
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))


@pytest.mark.parametrize("holes", [0, 5])
def test_resampler_is_bit_identical_to_one_shot(holes: int) -> None:
    t, v = _irregular(20_000, seed=holes, holes=holes)
    grid_ns, grid = resample_uniform(t, v, 50.0)
    rs = UniformResampler(int(t[0]), 50.0)
    parts = [rs.update(t[a:b], v[a:b]) for a, b in _split(t.size, 1)]
    parts.append(rs.update(np.empty(0, np.int64), np.empty((0, 3)), final=True))
    got = np.concatenate(parts)
    assert got.shape == grid.shape
    np.testing.assert_array_equal(got, grid)  # NaN where NaN, bit-equal elsewhere
    assert np.isnan(grid).any() == (holes > 0)
    assert rs.grid_ns(rs.n_out - 1) == int(grid_ns[-1])


@pytest.mark.parametrize("holes", [0, 5])
def test_segment_deriver_equals_count_steps_and_detect_wear(holes: int) -> None:
    t, v = _irregular(60_000, seed=10 + holes, holes=holes)
    grid_ns, grid = resample_uniform(t, v, 50.0)
    steps = count_steps(grid, 50.0, nan_policy="gap")
    wear = detect_wear(grid, 50.0, start_ns=int(grid_ns[0]))
    sd = SegmentDeriver(int(t[0]), 50.0, has_gaps=holes > 0)
    for a, b in _split(t.size, 2):
        sd.update(t[a:b], v[a:b])
    res = sd.finish()
    assert steps.count > 500  # 20 minutes of walking
    np.testing.assert_array_equal(res.step_times_s, steps.step_times_s)
    np.testing.assert_array_equal(res.wear.wear, wear.wear)
    assert (res.start_ns, res.last_ns) == (int(grid_ns[0]), int(grid_ns[-1]))


def _store_with_irregular_streams(store: Store) -> Any:
    _, plans = cohort_plans(1, dt.date(2026, 11, 11), 1)
    plan = plans[0]
    fill_subject(store, plan, wear_h=1.0, seed=3)  # 50 Hz wear and an exercise session
    t, v = _irregular(120_000, seed=4, holes=30)
    frames = [
        Frame(
            subject=plan.subject,
            device=f"{plan.subject}-phone",
            stream=StreamKind.ACCEL,
            t_ns=t[i : i + 977],
            values=v[i : i + 977],
            units=("g", "g", "g"),
            fs_hz=None,
            seq=i,
        )
        for i in range(0, t.size, 977)
    ]
    store.put_frames(frames)
    # the same samples again under other sequence numbers (a redelivery), and a 5 s pause
    store.put_frames(
        [
            Frame(
                subject=f.subject,
                device=f.device,
                stream=f.stream,
                t_ns=f.t_ns + (5 * 10**9 if k > 40 else 0),
                values=f.values,
                units=f.units,
                fs_hz=None,
                seq=f.seq + 1,
            )
            for k, f in enumerate(frames[::7])
        ]
    )
    return plan


def test_derive_in_small_chunks_equals_one_chunk(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = []
    for name, chunk in (("one.sqlite", 1 << 40), ("small.sqlite", 3000)):
        monkeypatch.setattr(accel_segments, "CHUNK_SAMPLES", chunk)
        with Store(tmp_path / name) as store:
            plan = _store_with_irregular_streams(store)
            derive(store, plan.subject, plan.tz, days=plan.days())
            tables.append(subject_tables(store, plan.subject))
    assert tables[0] == tables[1]
    assert len(tables[0]["steps_minute"]) > 60 and len(tables[0]["walking_bouts"]) > 1


def test_derive_never_reads_a_whole_accel_stream(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _store_with_irregular_streams(store)
    windows: list[tuple[Any, Any]] = []
    real = Store.read_stream

    def spy(self: Store, subject: str, stream: Any, **kw: Any) -> Any:
        if str(stream) == "accel":
            windows.append((kw.get("start_ns"), kw.get("end_ns")))
        return real(self, subject, stream, **kw)

    monkeypatch.setattr(Store, "read_stream", spy)
    derive(store, plan.subject, plan.tz, days=plan.days())
    sessions = store.sessions(plan.subject)
    # every read is bounded: exercise sessions (to count repetitions) and the segments searched
    # for exercise one window of at most FIND_WINDOW_S at a time
    assert windows and all(a is not None and b is not None for a, b in windows)
    assert max(b - a for a, b in windows) <= FIND_WINDOW_S * NS_PER_S + 1
    assert {(s.start_ns, s.end_ns + 1) for s in sessions} <= set(windows)


def test_long_segments_are_searched_in_overlapping_windows() -> None:
    h = 3600 * NS_PER_S
    assert _windows(0, 2 * h) == [(0, 2 * h, 2 * h + 1)]  # short enough: whole
    assert FIND_WINDOW_S == 2 * 3600 and FIND_OVERLAP_S == 1800
    # 5 h: windows of 2 h every 1.5 h; a bout belongs to the window it starts in
    assert _windows(0, 5 * h) == [
        (0, 2 * h, 3 * h // 2),
        (3 * h // 2, 7 * h // 2, 3 * h),
        (3 * h, 5 * h, 5 * h + 1),
    ]
