"""A second, independent model of lower-back movement for the repetition benchmarks: trunk
pitch and translation of the pelvis, each following a minimum-jerk profile, with pauses of
uneven length between repetitions.

The project's generator (:mod:`features.synthetic`) moves one segment by a raised cosine with
short, even pauses. Here a repetition goes down and back up in two minimum-jerk halves
(``10u^3 - 15u^4 + 6u^5``; T. Flash, N. Hogan, "The coordination of arm movements: an
experimentally confirmed mathematical model", J. Neurosci. 5(7):1688-1703, 1985,
https://doi.org/10.1523/JNEUROSCI.05-07-01688.1985), the pelvis translates vertically and
forward while the trunk pitches, and the pause before each repetition is drawn from a range:
a patient who stops for a breath between some repetitions and not others.

The accelerometer measures the specific force ``R^T (a / g + up)`` in g, in a sensor frame
turned by a random mounting rotation, with 0.01 g of white noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from devices.movesense import STANDARD_GRAVITY

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Movement:
    """One lower-back exercise: trunk pitch (degrees, positive forward) and pelvis translation
    (metres: vertical, positive up; forward) at the turning point of a repetition."""

    name: str
    pitch_deg: float
    up_m: float
    forward_m: float


#: Squat (the trunk leans forward as the hips drop) and sit-to-stand from a chair (the trunk
#: leans forward to rise: seated is the rest pose, standing the turning point).
SQUAT = Movement("squat", 35.0, -0.3, -0.1)
SIT_TO_STAND = Movement("sit_to_stand", -30.0, 0.45, 0.2)


def min_jerk(u: Array) -> Array:
    """Minimum-jerk position profile from 0 to 1 over ``u`` in [0, 1] (clipped outside)."""
    u = np.clip(u, 0.0, 1.0)
    return np.asarray(10 * u**3 - 15 * u**4 + 6 * u**5, dtype=np.float64)


@dataclass(frozen=True)
class KinematicSet:
    """A set: accelerometer (g), rate (Hz), start times and durations of the repetitions (s)."""

    accel_g: Array
    fs_hz: float
    starts_s: list[float]
    durations_s: list[float]


def excursion(t_s: Array, starts_s: list[float], durations_s: list[float]) -> Array:
    """0 at rest, 1 at the turning point: down in the first half of each repetition and back
    in the second, minimum jerk (dimensionless; times in seconds)."""
    e = np.zeros_like(t_s)
    for s, d in zip(starts_s, durations_s, strict=True):
        u = (t_s - s) / d
        e += min_jerk(2 * u) - min_jerk(2 * u - 1)
    return e


def kinematic_set(
    movement: Movement,
    n: int,
    *,
    rep_s: float,
    pause_s: tuple[float, float],
    fs_hz: float = 100.0,
    seed: int = 0,
) -> KinematicSet:
    """``n`` repetitions of ``movement`` of about ``rep_s`` seconds each (x0.85-1.15), a pause
    drawn uniformly from ``pause_s`` (seconds) before each but the first, 1-3 s of rest before
    and after; accelerometer in g at ``fs_hz``."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(1.0, 3.0)
    starts, durs = [], []
    for k in range(n):
        if k:
            t += rng.uniform(*pause_s)
        d = rep_s * rng.uniform(0.85, 1.15)
        starts.append(t)
        durs.append(d)
        t += d
    t_s = np.arange(int((t + rng.uniform(1.0, 3.0)) * fs_hz)) / fs_hz
    e = excursion(t_s, starts, durs)
    dt = 1.0 / fs_hz
    acc = np.column_stack(
        [
            np.gradient(np.gradient(movement.forward_m * e, dt), dt),
            np.zeros_like(t_s),
            np.gradient(np.gradient(movement.up_m * e, dt), dt),
        ]
    )
    force = acc / STANDARD_GRAVITY + np.array([0.0, 0.0, 1.0])  # specific force, world frame, g
    body = Rotation.from_rotvec(np.outer(np.radians(movement.pitch_deg) * e, [0.0, 1.0, 0.0]))
    mount = Rotation.random(random_state=seed)
    accel = mount.inv().apply(body.inv().apply(force)) + rng.normal(0.0, 0.01, (t_s.size, 3))
    return KinematicSet(np.asarray(accel, dtype=np.float64), float(fs_hz), starts, durs)
