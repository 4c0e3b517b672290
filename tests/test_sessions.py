"""Session segmentation: sets, rests and repetitions per set."""

from __future__ import annotations

import numpy as np
import pytest

from devices.errors import InputError
from features.sessions import SessionResult, segment_session
from features.synthetic import synth_session


@pytest.mark.parametrize(
    ("exercise", "sets", "seed"),
    [
        ("squat", [6, 8, 5], 0),
        ("bridge", [10, 10], 1),
        ("pelvic_tilt", [5, 7, 9], 2),
        ("hip_hinge", [12], 3),
    ],
)
def test_sets_found_with_exact_counts(exercise: str, sets: list[int], seed: int) -> None:
    rec = synth_session(exercise, sets, rest_s=25.0, seed=seed)
    res = segment_session(rec.accel_g, rec.fs_hz, rec.gyro_dps)
    assert res.reps_per_set == sets
    assert res.total_reps == sum(sets)
    assert len(res.rests) == len(sets) - 1
    for found, (a, b) in zip(res.sets, rec.set_bounds_s, strict=True):
        assert abs(found.start_s - a) < 1.5 and abs(found.end_s - b) < 1.5
    for rest in res.rests:
        assert 20.0 < rest.duration_s < 30.0


def test_profile_accepted() -> None:
    rec = synth_session("sit_to_stand", [5, 6], rest_s=20.0, seed=4)
    res = segment_session(rec.accel_g, rec.fs_hz, rec.gyro_dps, profile="sit_to_stand")
    assert res.reps_per_set == [5, 6]


def test_short_rest_merges_sets() -> None:
    rec = synth_session("squat", [5, 5], rest_s=6.0, seed=5)
    res = segment_session(rec.accel_g, rec.fs_hz, rec.gyro_dps, min_rest_s=15.0)
    assert res.reps_per_set == [10]


def test_min_set_reps_drops_small_sets() -> None:
    rec = synth_session("squat", [3, 8], rest_s=20.0, seed=6)
    res = segment_session(rec.accel_g, rec.fs_hz, rec.gyro_dps, min_set_reps=4)
    assert res.reps_per_set == [8]
    assert res.rests == []


def test_still_recording_has_no_set_and_a_reason() -> None:
    rng = np.random.default_rng(0)
    accel = np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.005, (5000, 3))
    res = segment_session(accel, 50.0)
    assert isinstance(res, SessionResult)
    assert res.sets == [] and res.rests == [] and res.total_reps == 0
    assert res.reason == "no movement above the noise floor"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"min_rest_s": 0.0}, "min_rest_s"), ({"min_set_reps": 0}, "min_set_reps")],
)
def test_raises(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        segment_session(np.zeros((100, 3)) + [0, 0, 1], 50.0, **kwargs)


def test_raises_on_bad_shape() -> None:
    with pytest.raises(InputError, match=r"expected shape \(N, 3\)"):
        segment_session(np.zeros((100,)), 50.0)


@pytest.mark.parametrize(
    ("exercise", "sets", "seed"),
    [("bridge", [8, 10], 1), ("cat_cow", [6, 9], 2), ("squat", [10, 5, 7], 3)],
)
def test_guided_sets_exact(exercise: str, sets: list[int], seed: int) -> None:
    rec = synth_session(exercise, sets, rest_s=25.0, seed=seed)
    res = segment_session(rec.accel_g, rec.fs_hz, rec.gyro_dps, profile=exercise, guided=True)
    assert res.reps_per_set == sets


def test_guided_needs_profile() -> None:
    with pytest.raises(InputError, match="guided"):
        segment_session(np.zeros((100, 3)) + [0, 0, 1], 50.0, guided=True)


@pytest.mark.parametrize("exercise", ["bird_dog", "cat_cow"])
def test_first_repetition_after_a_short_rest_with_profile(exercise: str) -> None:
    # The band-pass tail after a set kept the level above the start threshold, so the first
    # repetition of the next set started inside the rest and was too long to count.
    rec = synth_session(exercise, [8, 10], rest_s=20.0, seed=0)
    res = segment_session(rec.accel_g, rec.fs_hz, rec.gyro_dps, profile=exercise)
    assert res.reps_per_set == [8, 10]
