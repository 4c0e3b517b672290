"""Exercise library for back rehabilitation, loaded from ``exercises.json`` (data, not code).

Each profile gives the sensor placements that make sense for the exercise, the expected
duration of one repetition, and axis hints in the body frame of the segment that carries the
sensor: ``x`` anteroposterior (forward), ``y`` mediolateral (to the left), ``z`` longitudinal
(towards the head). The repetition counter uses a profile only to narrow its search
(repetition period range); it counts without one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from devices.errors import DataFileError, InputError

__all__ = ["ExerciseProfile", "get_profile", "load_library", "PLACEMENTS", "AXES", "POSTURES"]

PLACEMENTS = ("lower_back", "thigh", "wrist")
AXES = ("x", "y", "z")
#: Direction of "up" (the reaction to gravity, +1 g at rest) in the body frame per posture.
POSTURES = {
    "standing": (0.0, 0.0, 1.0),
    "sitting": (0.0, 0.0, 1.0),
    "supine": (1.0, 0.0, 0.0),
    "quadruped": (-1.0, 0.0, 0.0),
    "side_lying": (0.0, 1.0, 0.0),
}
#: Linear travel of a repetition when the library entry gives none, metres.
DEFAULT_DISPLACEMENT_M = (0.05, 0.25)


@dataclass(frozen=True)
class ExerciseProfile:
    """One exercise of the library.

    Attributes
    ----------
    id : str
        snake_case identifier (``"bird_dog"``).
    name, description : str
        Human-readable name and one-sentence instruction.
    posture : str
        Starting posture, a key of :data:`POSTURES`.
    placements : tuple of str
        Sensor placements that see the movement, preferred first.
    rom_deg : dict of str to (float, float)
        Typical range of motion of the segment per placement, degrees.
    rep_duration_s : (float, float)
        Expected duration of one repetition, seconds (min, max).
    rotation_axis, accel_axis : str
        Dominant rotation and acceleration axes in the body frame (``"x"``, ``"y"``, ``"z"``).
    displacement_m : (float, float)
        Linear travel of the segment along ``accel_axis`` in one repetition, metres (min,
        max); used by the synthetic generator. Optional in the file: 0.05 .. 0.25 m.
    """

    id: str
    name: str
    description: str
    posture: str
    placements: tuple[str, ...]
    rom_deg: dict[str, tuple[float, float]]
    rep_duration_s: tuple[float, float]
    rotation_axis: str
    accel_axis: str
    displacement_m: tuple[float, float] = DEFAULT_DISPLACEMENT_M


def _placements(
    raw: Any, bad: Callable[[str, str], DataFileError]
) -> dict[str, tuple[float, float]]:
    """``placements`` of a library entry: placement -> range of motion (lo, hi), degrees."""
    if not isinstance(raw, dict) or not raw:
        raise bad("placements", "need a non-empty mapping placement -> {rom_deg}")
    rom: dict[str, tuple[float, float]] = {}
    for placement, spec in raw.items():
        if placement not in PLACEMENTS:
            raise bad("placements", f"{placement!r} not in {PLACEMENTS}")
        r_lo, r_hi = (float(v) for v in spec["rom_deg"])
        if not 0 < r_lo <= r_hi <= 180:
            raise bad(
                f"placements.{placement}.rom_deg", f"need 0 < lo <= hi <= 180, got {r_lo}, {r_hi}"
            )
        rom[placement] = (r_lo, r_hi)
    return rom


def _parse(ex_id: str, raw: dict[str, Any], where: str) -> ExerciseProfile:
    def bad(field: str, why: str) -> DataFileError:
        return DataFileError(where, f"exercise {ex_id!r}: {field}: {why}")

    try:
        placements_raw = raw["placements"]
        lo, hi = (float(v) for v in raw["rep_duration_s"])
        posture = str(raw["posture"])
        rotation_axis = str(raw["rotation_axis"])
        accel_axis = str(raw["accel_axis"])
        name = str(raw["name"])
        description = str(raw["description"])
        d_lo, d_hi = (float(v) for v in raw.get("displacement_m", DEFAULT_DISPLACEMENT_M))
    except (KeyError, TypeError, ValueError) as exc:
        raise bad("fields", f"missing or malformed ({exc})") from exc
    if not 0 < lo < hi:
        raise bad("rep_duration_s", f"need 0 < min < max, got {lo}, {hi}")
    if posture not in POSTURES:
        raise bad("posture", f"{posture!r} not in {sorted(POSTURES)}")
    for field, axis in (("rotation_axis", rotation_axis), ("accel_axis", accel_axis)):
        if axis not in AXES:
            raise bad(field, f"{axis!r} not in {AXES}")
    if not 0 <= d_lo <= d_hi <= 2:
        raise bad("displacement_m", f"need 0 <= min <= max <= 2 m, got {d_lo}, {d_hi}")
    rom = _placements(placements_raw, bad)
    return ExerciseProfile(
        id=ex_id,
        name=name,
        description=description,
        posture=posture,
        placements=tuple(rom),
        rom_deg=rom,
        rep_duration_s=(lo, hi),
        rotation_axis=rotation_axis,
        accel_axis=accel_axis,
        displacement_m=(d_lo, d_hi),
    )


@cache
def load_library() -> dict[str, ExerciseProfile]:
    """Load the packaged exercise library.

    Returns
    -------
    dict of str to ExerciseProfile
        Profiles keyed by snake_case id.

    Raises
    ------
    DataFileError
        If ``exercises.json`` is missing or a field is invalid.
    """
    res = resources.files("features") / "exercises.json"
    where = str(res)
    try:
        doc = json.loads(res.read_text(encoding="utf-8"))
        exercises = doc["exercises"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataFileError(where, f"cannot read exercise library: {exc}") from exc
    return {ex_id: _parse(ex_id, raw, where) for ex_id, raw in exercises.items()}


def get_profile(name: str) -> ExerciseProfile:
    """Return the profile of one exercise.

    Parameters
    ----------
    name : str
        snake_case id; ``-`` and spaces are accepted for ``_`` and case is ignored.

    Raises
    ------
    InputError
        If the exercise is unknown; the message lists the known ids.
    """
    lib = load_library()
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in lib:
        raise InputError("exercise", name, f"unknown exercise; known: {', '.join(sorted(lib))}")
    return lib[key]
