"""Validation, parameters and range of motion shared by the repetition modules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from devices.errors import InputError
from features._reps_engine import EngineParams
from features.exercises import ExerciseProfile, get_profile

Array = NDArray[np.float64]

MIN_FS_HZ = 5.0
MAX_FS_HZ = 2000.0
#: Default repetition duration range without a profile, seconds.
DEFAULT_REP_RANGE_S = (0.8, 8.0)


def check_fs(fs_hz: Any, name: str = "fs_hz") -> float:
    """Return ``fs_hz`` as float or raise :class:`InputError`."""
    if isinstance(fs_hz, bool) or not isinstance(fs_hz, int | float | np.integer | np.floating):
        raise InputError(
            name, "", f"sample rate must be a number in Hz, got {type(fs_hz).__name__}"
        )
    fs = float(fs_hz)
    if not (math.isfinite(fs) and MIN_FS_HZ <= fs <= MAX_FS_HZ):
        raise InputError(
            name, "", f"sample rate must be within [{MIN_FS_HZ}, {MAX_FS_HZ}] Hz, got {fs}"
        )
    return fs


def check_xyz(x: Any, name: str, unit: str) -> Array:
    """Return an (N, 3) float64 array or raise :class:`InputError` (shape, NaN, units)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputError(name, "", f"expected shape (N, 3) in {unit}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=1))[0])
        raise InputError(name, f"row {bad}", "contains NaN or infinite values")
    return arr


def check_accel(x: Any) -> Array:
    """Validate an accelerometer array in g (rejects m/s^2 by its magnitude)."""
    arr = check_xyz(x, "accel_g", "g")
    if arr.shape[0]:
        med = float(np.median(np.linalg.norm(arr, axis=1)))
        if med > 4.0:
            raise InputError(
                "accel_g",
                "",
                f"median magnitude {med:.1f} looks like m/s^2; convert to g (/ 9.80665)",
            )
    return arr


def check_time(t_s: Any, n: int, fs_hz: float) -> Array:
    """Validate sample times: length ``n``, strictly increasing, consistent with ``fs_hz``."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1 or t.shape[0] != n:
        raise InputError("t_s", "", f"expected shape ({n},) to match accel_g, got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise InputError("t_s", "", "contains NaN or infinite values")
    if n >= 2:
        dt = np.diff(t)
        if np.any(dt <= 0):
            bad = int(np.flatnonzero(dt <= 0)[0])
            raise InputError("t_s", f"index {bad + 1}", "timestamps must be strictly increasing")
        med = float(np.median(dt))
        if abs(med * fs_hz - 1.0) > 0.05:
            raise InputError(
                "t_s", "", f"median sample interval {med:.4g} s does not match fs_hz={fs_hz} Hz"
            )
    return t


def resample_onto(x: Array, fs_from_hz: float, n: int, fs_to_hz: float) -> Array:
    """Linearly interpolate ``x`` sampled at ``fs_from_hz`` onto ``n`` samples at ``fs_to_hz``."""
    t_from = np.arange(x.shape[0]) / fs_from_hz
    t_to = np.arange(n) / fs_to_hz
    return np.column_stack([np.interp(t_to, t_from, x[:, k]) for k in range(3)])


def resolve_profile(profile: ExerciseProfile | str | None) -> ExerciseProfile | None:
    """Accept a profile, a library id or ``None``."""
    if profile is None or isinstance(profile, ExerciseProfile):
        return profile
    if isinstance(profile, str):
        return get_profile(profile)
    raise InputError(
        "profile", "", f"expected ExerciseProfile, str or None, got {type(profile).__name__}"
    )


#: Guided mode: a range of motion is plausible within these factors of the profile's range
#: (lowest and highest over its placements; the sensor placement is not known).
GUIDED_ROM_FACTORS = (0.5, 1.5)
#: Guided mode confirms a trough after this long without a new minimum, seconds (normal
#: mode: 0.25 s): two samples at 50 Hz. The band-passed projection is smooth (1 Hz low-pass),
#: so two samples that do not go lower mark the trough; with the filter's ~0.35 s delay this
#: keeps guided events within 0.5 s of the true end (docs/reps.md). Normal mode keeps
#: 0.25 s: there a shorter wait cost a barbell set (0.15 s: 68 instead of 69 of 78).
GUIDED_TROUGH_FLAT_S = 0.04


def make_params(
    profile: ExerciseProfile | None,
    min_rep_s: float | None,
    max_rep_s: float | None,
    *,
    guided: bool = False,
    placement: str | None = None,
) -> EngineParams:
    """Engine parameters: the profile narrows the repetition duration range (x0.7 .. x1.3).

    ``guided=True`` (needs a profile) lets a single cycle be reported before a run confirms
    it when its duration is within the profile's ``rep_duration_s`` (s) and its range of motion
    within :data:`GUIDED_ROM_FACTORS` of the profile's ``rom_deg`` (degrees): of the given
    sensor ``placement`` (a key of the profile's ``rom_deg``), else lowest to highest over all.
    """
    if not isinstance(guided, bool):
        raise InputError("guided", "", f"expected True or False, got {type(guided).__name__}")
    if guided and profile is None:
        raise InputError("guided", "", "guided mode needs the exercise profile (profile=...)")
    if placement is not None and (profile is None or placement not in profile.rom_deg):
        known = ", ".join(profile.rom_deg) if profile is not None else "none without a profile"
        raise InputError("placement", "", f"unknown placement {placement!r}; known: {known}")
    lo, hi = DEFAULT_REP_RANGE_S
    if profile is not None:
        lo, hi = 0.7 * profile.rep_duration_s[0], 1.3 * profile.rep_duration_s[1]
    lo = lo if min_rep_s is None else float(min_rep_s)
    hi = hi if max_rep_s is None else float(max_rep_s)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.2 <= lo < hi <= 60.0):
        raise InputError(
            "min_rep_s", "", f"need 0.2 <= min_rep_s < max_rep_s <= 60 s, got {lo}, {hi}"
        )
    if not guided or profile is None:
        return EngineParams(min_rep_s=lo, max_rep_s=hi)
    ranges = [profile.rom_deg[placement]] if placement else list(profile.rom_deg.values())
    rom_lo = min(r[0] for r in ranges) * GUIDED_ROM_FACTORS[0]
    rom_hi = max(r[1] for r in ranges) * GUIDED_ROM_FACTORS[1]
    return EngineParams(
        min_rep_s=lo,
        max_rep_s=hi,
        guided=True,
        guided_rep_s=(float(profile.rep_duration_s[0]), float(profile.rep_duration_s[1])),
        guided_rom_deg=(rom_lo, rom_hi),
        trough_flat_s=GUIDED_TROUGH_FLAT_S,
    )


def rom_deg(accel_g: Array, gyro_dps: Array | None, fs_hz: float, start: int, end: int) -> float:
    """Range of motion of one repetition, degrees.

    With a gyroscope: integrate the angular rate projected on the principal rotation axis of
    the repetition (first right-singular vector of the rates) and take max - min. Without one:
    largest angle between the smoothed gravity direction and its direction at the start or at
    the end of the repetition.
    """
    if end <= start:
        return float("nan")
    if gyro_dps is not None:
        g = gyro_dps[start : end + 1]
        _, _, vt = np.linalg.svd(g, full_matrices=False)
        angle = np.cumsum(g @ vt[0]) / fs_hz
        return float(np.ptp(np.concatenate([[0.0], angle])))
    a = accel_g[start : end + 1]
    k = max(1, round(0.25 * fs_hz))
    if a.shape[0] > k:
        kernel = np.ones(k) / k
        a = np.column_stack([np.convolve(a[:, j], kernel, mode="valid") for j in range(3)])
    u = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    cosang = np.clip(np.concatenate([u @ u[0], u @ u[-1]]), -1.0, 1.0)
    return float(np.degrees(np.max(np.arccos(cosang))))


def set_indices(start_s: Array, end_s: Array, min_rest_s: float) -> NDArray[np.int64]:
    """Set index of each repetition: a new set begins after a gap longer than ``min_rest_s``.

    Causal (depends only on earlier repetitions), so the live counter assigns the same indices.
    """
    out = np.zeros(start_s.shape[0], dtype=np.int64)
    if start_s.size:
        gaps = start_s[1:] - end_s[:-1]
        out[1:] = np.cumsum(gaps > min_rest_s)
    return out
