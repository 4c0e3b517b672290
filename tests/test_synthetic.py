"""Synthetic exercise recordings: determinism, ground truth, physical consistency."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from devices.errors import InputError
from features.exercises import get_profile
from features.synthetic import synth_exercise_set, synth_session


def test_same_seed_same_arrays_other_seed_differs() -> None:
    a = synth_exercise_set("bridge", 5, seed=7)
    b = synth_exercise_set("bridge", 5, seed=7)
    c = synth_exercise_set("bridge", 5, seed=8)
    assert np.array_equal(a.accel_g, b.accel_g) and np.array_equal(a.gyro_dps, b.gyro_dps)
    assert a.rep_bounds_s == b.rep_bounds_s
    assert not np.array_equal(a.accel_g, c.accel_g)


def test_shapes_truth_and_marker() -> None:
    rec = synth_exercise_set("squat", 7, fs_hz=40.0, seed=1)
    n = rec.t_s.size
    assert rec.accel_g.shape == (n, 3) and rec.gyro_dps.shape == (n, 3)
    assert np.allclose(np.diff(rec.t_s), 1 / 40.0)
    assert len(rec.rep_bounds_s) == 7 and rec.reps_per_set == [7] and rec.total_reps == 7
    assert rec.synthetic is True and rec.exercise == "squat" and rec.placement == "thigh"
    starts = [a for a, _ in rec.rep_bounds_s]
    ends = [b for _, b in rec.rep_bounds_s]
    assert all(e > s for s, e in rec.rep_bounds_s)
    assert all(s2 >= e1 for e1, s2 in zip(ends[:-1], starts[1:], strict=True))
    assert rec.set_bounds_s == [(starts[0], ends[-1])]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.fs_hz = 1.0  # type: ignore[misc]


def test_gravity_is_one_g_at_rest() -> None:
    rec = synth_exercise_set("pelvic_tilt", 3, seed=2)
    quiet = rec.t_s < rec.rep_bounds_s[0][0] - 0.1
    norm = np.linalg.norm(rec.accel_g[quiet].mean(axis=0))
    assert norm == pytest.approx(1.0, abs=0.01)


def test_gyro_integrates_to_the_orientation_change() -> None:
    """The angle between gravity at rest and at mid-repetition matches the integrated gyro."""
    rec = synth_exercise_set("hip_hinge", 1, fs_hz=100.0, seed=3)
    a, b = rec.rep_bounds_s[0]
    i0, i1 = int(a * 100), int((a + b) / 2 * 100)
    g0 = rec.accel_g[i0 - 50 : i0].mean(axis=0)
    g1 = rec.accel_g[i1 - 5 : i1 + 5].mean(axis=0)
    tilt = np.degrees(np.arccos(g0 @ g1 / np.linalg.norm(g0) / np.linalg.norm(g1)))
    w = rec.gyro_dps[i0:i1]
    _, _, vt = np.linalg.svd(w, full_matrices=False)
    turned = abs(np.sum(w @ vt[0]) / 100.0)
    lo, hi = get_profile("hip_hinge").rom_deg["lower_back"]
    assert 0.8 * lo <= turned <= 1.2 * hi
    assert tilt == pytest.approx(turned, abs=4.0)


def test_session_sets_and_rests() -> None:
    rec = synth_session("bird_dog", [4, 6], rest_s=20.0, lead_in_s=3.0, seed=0)
    assert rec.reps_per_set == [4, 6] and len(rec.rep_bounds_s) == 10
    (s0, e0), (s1, e1) = rec.set_bounds_s
    assert s0 == pytest.approx(3.0)
    assert 18.0 <= s1 - e0 <= 22.0
    assert rec.t_s[-1] >= e1 + 3.0 - 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exercise": "burpee", "reps": 3}, "unknown exercise"),
        ({"exercise": "squat", "reps": -1}, "integer >= 0"),
        ({"exercise": "squat", "reps": 3, "fs_hz": 0.0}, "sample rate"),
        ({"exercise": "squat", "reps": 3, "placement": "ankle"}, "choose one of thigh"),
        ({"exercise": "squat", "reps": 3, "rep_s": 0.0}, "rep_s"),
    ],
)
def test_exercise_set_raises(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        synth_exercise_set(**kwargs)


def test_session_raises_on_empty_sets() -> None:
    with pytest.raises(InputError, match="non-empty list"):
        synth_session("squat", [])
