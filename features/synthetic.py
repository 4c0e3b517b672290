"""Deterministic synthetic exercise recordings with known repetition counts.

The generator moves a rigid body segment (lower back, thigh or wrist) through repetitions of
an exercise from the library (:mod:`features.exercises`): the segment rotates about the
profile's dominant body axis, so gravity projects differently onto the sensor axes as the
movement goes on, and the segment translates along the profile's acceleration axis. The sensor
sits on the segment with a random but fixed mounting rotation. Each repetition has its own
duration, amplitude and shape; the sensor adds white noise, a gyroscope bias, a small
physiological tremor (8-12 Hz) and a slow postural drift that continues through rests.

Every random choice comes from ``numpy.random.default_rng(seed)``: the same arguments give the
same arrays, bit for bit.

Examples
--------
>>> from features.synthetic import synth_exercise_set
>>> rec = synth_exercise_set("bridge", 8, seed=1)
>>> rec.accel_g.shape[1], len(rec.rep_bounds_s)
(3, 8)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from devices.errors import InputError
from features.exercises import POSTURES, ExerciseProfile, get_profile

__all__ = ["SynthRecording", "synth_exercise_set", "synth_session"]

_G_MPS2 = 9.80665
_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}

Bounds = list[tuple[float, float]]


@dataclass(frozen=True)
class SynthRecording:
    """A synthetic recording with its ground truth.

    Attributes
    ----------
    t_s : ndarray, shape (N,)
        Sample times, seconds from the start.
    accel_g : ndarray, shape (N, 3)
        Specific force in the sensor frame, g (1 g up at rest).
    gyro_dps : ndarray, shape (N, 3)
        Angular rate in the sensor frame, degrees per second.
    fs_hz : float
        Sample rate of both sensors, Hz.
    rep_bounds_s : list of (float, float)
        Start and end time of every true repetition, seconds.
    set_bounds_s : list of (float, float)
        Start of the first and end of the last repetition of every set, seconds.
    reps_per_set : list of int
        True repetition count per set.
    exercise, placement : str
        Library id of the exercise and sensor placement.
    synthetic : bool
        Always ``True``: marks generated data wherever it ends up.
    """

    t_s: NDArray[np.float64]
    accel_g: NDArray[np.float64]
    gyro_dps: NDArray[np.float64]
    fs_hz: float
    rep_bounds_s: Bounds
    set_bounds_s: Bounds
    reps_per_set: list[int]
    exercise: str
    placement: str
    synthetic: bool = True

    @property
    def total_reps(self) -> int:
        """Total number of true repetitions."""
        return sum(self.reps_per_set)


def _rot(axis: NDArray[np.float64], angle_rad: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rotation matrices (N, 3, 3) about a fixed unit axis (Rodrigues)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    s = np.sin(angle_rad)[:, None, None]
    c = np.cos(angle_rad)[:, None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def _random_rotation(rng: np.random.Generator) -> NDArray[np.float64]:
    """Uniformly distributed rotation matrix from a random unit quaternion."""
    w, x, y, z = rng.normal(size=4)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _check(fs_hz: float, exercise: str, placement: str | None) -> tuple[ExerciseProfile, str]:
    if not (isinstance(fs_hz, int | float) and math.isfinite(fs_hz) and fs_hz >= 5.0):
        raise InputError("fs_hz", "synthetic", f"need a finite sample rate >= 5 Hz, got {fs_hz!r}")
    profile = get_profile(exercise)
    if placement is None:
        placement = profile.placements[0]
    if placement not in profile.rom_deg:
        raise InputError(
            "placement",
            exercise,
            f"{placement!r} not available; choose one of {', '.join(profile.placements)}",
        )
    return profile, placement


def _build(
    profile: ExerciseProfile,
    placement: str,
    sets: list[int],
    *,
    fs_hz: float,
    seed: int,
    rep_s: float | None,
    rest_s: float,
    lead_in_s: float,
    tail_s: float,
) -> SynthRecording:
    rng = np.random.default_rng(seed)
    lo_s, hi_s = profile.rep_duration_s
    base_rep_s = rep_s if rep_s is not None else lo_s + 0.35 * (hi_s - lo_s)
    rom_lo, rom_hi = profile.rom_deg[placement]
    rom_set_deg = rng.uniform(rom_lo, rom_hi)

    # Timeline of repetitions: durations and amplitudes vary per repetition.
    rep_bounds: Bounds = []
    set_bounds: Bounds = []
    amps_rad: list[float] = []
    gammas: list[float] = []
    disp_m: list[float] = []
    t = lead_in_s
    for k, n in enumerate(sets):
        if k > 0:
            t += rest_s * rng.uniform(0.9, 1.1)
        set_start = t
        for i in range(n):
            if i > 0:
                t += rng.uniform(0.15, 0.6) * min(1.0, base_rep_s / 2.0)
            dur = base_rep_s * rng.uniform(0.85, 1.15)
            rep_bounds.append((t, t + dur))
            amps_rad.append(math.radians(rom_set_deg * rng.uniform(0.85, 1.15)))
            gammas.append(rng.uniform(0.8, 1.25))
            disp_m.append(rng.uniform(*profile.displacement_m))
            t += dur
        set_bounds.append((set_start, t))
    total_s = t + tail_s
    n_samples = int(math.ceil(total_s * fs_hz)) + 1
    t_s = np.arange(n_samples) / fs_hz

    # Angle about the dominant axis and linear displacement along the acceleration axis.
    theta = np.zeros(n_samples)
    theta_dot = np.zeros(n_samples)
    lin_acc = np.zeros(n_samples)
    for (a, b), amp, gamma, disp in zip(rep_bounds, amps_rad, gammas, disp_m, strict=True):
        i0, i1 = int(math.ceil(a * fs_hz)), int(math.floor(b * fs_hz))
        tt = t_s[i0 : i1 + 1]
        dur = b - a
        u = np.clip((tt - a) / dur, 0.0, 1.0)
        ug = u**gamma  # time warp: asymmetric up and down phases
        dug = gamma * np.maximum(u, 1e-6) ** (gamma - 1.0) / dur
        phase = 2.0 * np.pi * ug
        theta[i0 : i1 + 1] = amp * 0.5 * (1.0 - np.cos(phase))
        theta_dot[i0 : i1 + 1] = amp * 0.5 * np.sin(phase) * 2.0 * np.pi * dug
        lin_acc[i0 : i1 + 1] = disp * 0.5 * (2.0 * np.pi / dur) ** 2 * np.cos(phase) / _G_MPS2

    # Slow postural drift (about 1 degree, < 0.05 Hz) about a random axis, also during rests.
    w_axis = rng.normal(size=3)
    w_axis /= np.linalg.norm(w_axis)
    wander = np.zeros(n_samples)
    wander_dot = np.zeros(n_samples)
    for _ in range(3):
        f = rng.uniform(0.005, 0.05)
        a_rad = math.radians(rng.uniform(0.2, 0.6))
        ph = rng.uniform(0.0, 2.0 * np.pi)
        wander += a_rad * np.sin(2.0 * np.pi * f * t_s + ph)
        wander_dot += a_rad * 2.0 * np.pi * f * np.cos(2.0 * np.pi * f * t_s + ph)

    axis = np.zeros(3)
    axis[_AXIS_INDEX[profile.rotation_axis]] = 1.0
    if rng.random() < 0.5:
        axis = -axis  # which way the segment turns depends on the side and the mounting
    up0 = np.asarray(POSTURES[profile.posture], dtype=float)
    lin_dir = np.zeros(3)
    lin_dir[_AXIS_INDEX[profile.accel_axis]] = 1.0

    r_move = _rot(axis, theta)  # body relative to its starting pose
    r_wand = _rot(w_axis, wander)
    r_body = r_wand @ r_move  # drift applied in the (quasi-fixed) base frame
    f_base = up0[None, :] + lin_acc[:, None] * lin_dir[None, :]
    f_body = np.einsum("nji,nj->ni", r_body, f_base)  # R^T f
    # Angular velocity in the body frame: R_move^T (w_axis * wander_dot) + axis * theta_dot.
    omega_body = np.einsum("nji,j->ni", r_move, w_axis) * wander_dot[:, None]
    omega_body += axis[None, :] * theta_dot[:, None]

    r_mount = _random_rotation(rng)  # sensor frame expressed in the body frame
    accel_g = f_body @ r_mount
    gyro_dps = np.degrees(omega_body @ r_mount)

    # Sensor imperfections.
    f_trem = min(rng.uniform(8.0, 12.0), 0.4 * fs_hz)
    trem = np.sin(2.0 * np.pi * f_trem * t_s + rng.uniform(0, 2 * np.pi))
    trem_dir = rng.normal(size=3)
    trem_dir /= np.linalg.norm(trem_dir)
    accel_g += 0.004 * trem[:, None] * trem_dir[None, :]
    gyro_dps += 0.4 * trem[:, None] * trem_dir[None, :]
    accel_g += rng.normal(0.0, 0.008, size=accel_g.shape)
    gyro_dps += rng.normal(0.0, 0.3, size=gyro_dps.shape) + rng.uniform(-1.0, 1.0, size=3)

    return SynthRecording(
        t_s=t_s,
        accel_g=accel_g,
        gyro_dps=gyro_dps,
        fs_hz=float(fs_hz),
        rep_bounds_s=rep_bounds,
        set_bounds_s=set_bounds,
        reps_per_set=list(sets),
        exercise=profile.id,
        placement=placement,
    )


def synth_exercise_set(
    exercise: str,
    reps: int,
    *,
    fs_hz: float = 50.0,
    seed: int = 0,
    rep_s: float | None = None,
    placement: str | None = None,
) -> SynthRecording:
    """Generate one set of ``reps`` repetitions with 2 s of quiet before and after.

    Parameters
    ----------
    exercise : str
        Library id (see :func:`features.exercises.load_library`).
    reps : int
        Number of repetitions, >= 0.
    fs_hz : float
        Sample rate, Hz (>= 5).
    seed : int
        Seed of ``numpy.random.default_rng``.
    rep_s : float, optional
        Mean repetition duration, seconds; default from the profile's range.
    placement : str, optional
        Sensor placement; default the profile's first placement.

    Returns
    -------
    SynthRecording

    Raises
    ------
    InputError
        Unknown exercise or placement, negative ``reps``, bad ``fs_hz`` or ``rep_s``.
    """
    profile, placement = _check(fs_hz, exercise, placement)
    if not isinstance(reps, int | np.integer) or reps < 0:
        raise InputError("reps", exercise, f"need an integer >= 0, got {reps!r}")
    if rep_s is not None and not (math.isfinite(rep_s) and 0.3 <= rep_s <= 60.0):
        raise InputError("rep_s", exercise, f"need 0.3 <= rep_s <= 60 s, got {rep_s!r}")
    return _build(
        profile,
        placement,
        [int(reps)],
        fs_hz=fs_hz,
        seed=seed,
        rep_s=rep_s,
        rest_s=0.0,
        lead_in_s=2.0,
        tail_s=2.0,
    )


def synth_session(
    exercise: str,
    sets: list[int],
    *,
    rest_s: float = 30.0,
    lead_in_s: float = 5.0,
    fs_hz: float = 50.0,
    seed: int = 0,
) -> SynthRecording:
    """Generate a session: quiet lead-in, then sets separated by quiet rests.

    Parameters
    ----------
    exercise : str
        Library id.
    sets : list of int
        Repetitions per set, each >= 1.
    rest_s : float
        Mean rest between sets, seconds (each rest varies by +-10 %).
    lead_in_s : float
        Quiet time before the first set and after the last one, seconds.
    fs_hz : float
        Sample rate, Hz.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    SynthRecording

    Raises
    ------
    InputError
        Unknown exercise, empty ``sets`` or a set < 1, negative times, bad ``fs_hz``.
    """
    profile, placement = _check(fs_hz, exercise, None)
    if not sets or any((not isinstance(n, int | np.integer)) or n < 1 for n in sets):
        raise InputError("sets", exercise, f"need a non-empty list of integers >= 1, got {sets!r}")
    if not (math.isfinite(rest_s) and rest_s >= 0 and math.isfinite(lead_in_s) and lead_in_s >= 0):
        raise InputError(
            "rest_s", exercise, f"need rest_s, lead_in_s >= 0, got {rest_s}, {lead_in_s}"
        )
    return _build(
        profile,
        placement,
        [int(n) for n in sets],
        fs_hz=fs_hz,
        seed=seed,
        rep_s=None,
        rest_s=rest_s,
        lead_in_s=lead_in_s,
        tail_s=lead_in_s,
    )
