"""Exercise library: data file, typed loader, lookup errors."""

from __future__ import annotations

from importlib import resources

import pytest

from devices.errors import InputError
from features.exercises import (
    AXES,
    PLACEMENTS,
    POSTURES,
    ExerciseProfile,
    get_profile,
    load_library,
)

REQUIRED = {
    "bridge",
    "bird_dog",
    "cat_cow",
    "pelvic_tilt",
    "dead_bug",
    "squat",
    "sit_to_stand",
    "hip_hinge",
    "knee_to_chest",
    "side_plank_hip_dip",
    # the lower-limb strength exercises of rehabilitation programmes
    "heel_raise",
    "split_squat",
    "lunge",
}


def test_json_is_package_data() -> None:
    assert (resources.files("features") / "exercises.json").is_file()


def test_library_has_the_rehab_exercises() -> None:
    lib = load_library()
    assert set(lib) >= REQUIRED


@pytest.mark.parametrize("ex_id", sorted(REQUIRED))
def test_profile_fields_are_valid(ex_id: str) -> None:
    prof = load_library()[ex_id]
    assert isinstance(prof, ExerciseProfile)
    assert prof.id == ex_id
    assert prof.name and len(prof.description) > 20
    assert prof.posture in POSTURES
    assert prof.placements and set(prof.placements) <= set(PLACEMENTS)
    lo, hi = prof.rep_duration_s
    assert 0.5 <= lo < hi <= 15.0
    for r_lo, r_hi in prof.rom_deg.values():
        assert 0 < r_lo <= r_hi <= 180
    assert prof.rotation_axis in AXES and prof.accel_axis in AXES
    d_lo, d_hi = prof.displacement_m
    assert 0 <= d_lo <= d_hi <= 0.5


def test_displacement_defaults_and_is_per_exercise() -> None:
    # An entry without displacement_m gets 0.05-0.25 m; a heel raise lifts the body a few cm.
    assert get_profile("bridge").displacement_m == (0.05, 0.25)
    assert get_profile("heel_raise").displacement_m == (0.04, 0.08)


def test_get_profile_accepts_dashes_and_case() -> None:
    assert get_profile("Bird-Dog").id == "bird_dog"
    assert get_profile("side plank hip dip").id == "side_plank_hip_dip"


def test_get_profile_unknown_lists_known_names() -> None:
    with pytest.raises(InputError, match=r"unknown exercise; known: .*bird_dog.*squat"):
        get_profile("burpee")


def test_profile_is_frozen() -> None:
    prof = get_profile("squat")
    with pytest.raises(AttributeError):
        prof.posture = "supine"  # type: ignore[misc]
