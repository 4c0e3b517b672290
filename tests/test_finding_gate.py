"""The activity gate of the whole-stream repetition counter in ``find_exercise``.

Truth: synthetic recordings whose moving stretches are known by construction (still sensor,
then a synthetic exercise session with known repetitions, then still again).
"""

from __future__ import annotations

import numpy as np

from features.finding import (
    MOVE_MIN_STD_G,
    MOVE_PAD_S,
    WINDOW_S,
    _moving_spans,
    _stream_reps,
    periodicity_features,
)
from features.reps import count_reps
from features.sessions import find_exercise
from features.synthetic import synth_session

FS = 50.0


def _still(g: np.ndarray, seconds: float) -> np.ndarray:
    return np.tile(g / np.linalg.norm(g), (int(seconds * FS), 1))


def _session_in_still(before_s: float, after_s: float) -> tuple[np.ndarray, int, int]:
    rec = synth_session("bridge", [8, 8], rest_s=30.0, lead_in_s=5.0, seed=3)
    g = rec.accel_g[0]
    acc = np.vstack([_still(g, before_s), rec.accel_g, _still(rec.accel_g[-1], after_s)])
    a = int(before_s * FS)
    return acc, a, a + rec.accel_g.shape[0]


def test_gate_threshold_is_a_quarter_of_the_counters_smallest_prominence() -> None:
    assert MOVE_MIN_STD_G == 0.25 * 0.05


def test_a_still_recording_has_no_moving_span() -> None:
    acc = _still(np.array([0.2, 0.1, 0.9]), 1800.0)
    assert _moving_spans(periodicity_features(acc, FS), acc.shape[0], FS) == []
    assert find_exercise(acc, FS).bouts == []


def test_a_recording_shorter_than_a_window_is_searched_whole() -> None:
    acc = _still(np.array([0.0, 0.0, 1.0]), WINDOW_S / 2)
    assert _moving_spans(periodicity_features(acc, FS), acc.shape[0], FS) == [(0, acc.shape[0])]


def test_the_moving_span_covers_the_session_and_its_padding_only() -> None:
    acc, a, b = _session_in_still(1200.0, 1200.0)
    spans = _moving_spans(periodicity_features(acc, FS), acc.shape[0], FS)
    assert len(spans) == 1
    lo, hi = spans[0]
    pad = int(MOVE_PAD_S * FS)
    # the session's first moving sample is after its 5 s lead-in; windows are WINDOW_S long
    assert a - pad - int(WINDOW_S * FS) <= lo <= a + 5 * int(FS) - pad
    assert b - pad <= hi <= b + pad + int(WINDOW_S * FS)
    assert hi - lo < acc.shape[0] // 2  # the 40 still minutes are skipped


def test_the_gate_keeps_every_repetition_the_ungated_counter_finds() -> None:
    acc, _, _ = _session_in_still(600.0, 600.0)  # < 30 min: one chunk without the gate
    res = count_reps(acc, FS)
    gated = _stream_reps(acc, FS, periodicity_features(acc, FS))
    assert res.count == 16
    np.testing.assert_allclose(
        np.array(gated), np.c_[res.start_s, res.end_s], rtol=0, atol=1.0 / FS
    )


def test_a_session_in_a_still_hour_is_found_with_its_sets() -> None:
    acc, a, _ = _session_in_still(1800.0, 1800.0)
    bouts = find_exercise(acc, FS).bouts
    assert [b.reps_per_set for b in bouts] == [[8, 8]]
    assert bouts[0].start_s >= a / FS
