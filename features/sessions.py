"""Session segmentation: find the sets of an exercise session and the rests between them.

A set is a group of repetitions (from :func:`features.reps.count_reps`) whose gaps are all at
most ``min_rest_s``; a longer gap is a rest. Because repetitions are only counted inside runs
of consistent cycles, movements during rests (walking to the mat, drinking) do not create sets.
The rule is causal, so :class:`features.reps.LiveRepCounter` assigns the same set indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from devices.errors import InputError
from features.exercises import ExerciseProfile
from features.finding import SetTotals
from features.finding import find_exercise as find_exercise  # exercise found in a raw stream
from features.reps import Repetition, count_reps
from features.reps.counter import set_indices

__all__ = ["RestResult", "SessionResult", "SetResult", "segment_session"]


@dataclass(frozen=True)
class SetResult:
    """One set: start of its first and end of its last repetition (s), and its repetitions."""

    start_s: float
    end_s: float
    reps: list[Repetition]

    @property
    def count(self) -> int:
        """Number of repetitions in the set."""
        return len(self.reps)


@dataclass(frozen=True)
class RestResult:
    """A rest between two sets, seconds."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length of the rest, seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class SessionResult(SetTotals):
    """Sets and rests of a session; ``reason`` explains an empty session."""

    sets: list[SetResult]
    rests: list[RestResult]
    reason: str


def segment_session(
    accel_g: Any,
    fs_hz: float,
    gyro_dps: Any = None,
    *,
    gyro_fs_hz: float | None = None,
    profile: ExerciseProfile | str | None = None,
    min_rest_s: float = 10.0,
    min_set_reps: int = 1,
    guided: bool = False,
    placement: str | None = None,
) -> SessionResult:
    """Split a continuous recording into sets and rests and count repetitions per set.

    Parameters
    ----------
    accel_g : array_like, shape (N, 3)
        Accelerometer, g.
    fs_hz : float
        Sample rate, Hz.
    gyro_dps : array_like, optional
        Gyroscope, degrees per second (see :func:`features.reps.count_reps`).
    gyro_fs_hz : float, optional
        Gyroscope sample rate when it differs from ``fs_hz``, Hz.
    profile : ExerciseProfile or str, optional
        Exercise profile or library id.
    min_rest_s : float
        A gap between repetitions longer than this separates two sets, seconds.
    min_set_reps : int
        Sets with fewer repetitions are dropped (their repetitions are not reported).
    guided : bool
        Guided session (needs ``profile``): count a single plausible cycle at once, as
        :func:`features.reps.count_reps` and :class:`features.reps.LiveRepCounter` with
        ``guided=True``.
    placement : str, optional
        Sensor placement for the guided range-of-motion check (see ``count_reps``).

    Returns
    -------
    SessionResult

    Raises
    ------
    InputError
        As :func:`features.reps.count_reps`, and for ``min_rest_s <= 0`` or ``min_set_reps < 1``.
    """
    if not (np.isfinite(min_rest_s) and min_rest_s > 0):
        raise InputError("min_rest_s", "", f"must be > 0 s, got {min_rest_s}")
    if min_set_reps < 1:
        raise InputError("min_set_reps", "", f"must be >= 1, got {min_set_reps}")
    res = count_reps(
        accel_g,
        fs_hz,
        gyro_dps,
        gyro_fs_hz=gyro_fs_hz,
        profile=profile,
        guided=guided,
        placement=placement,
    )
    if res.count == 0:
        return SessionResult(sets=[], rests=[], reason=res.reason)
    idx = set_indices(res.start_s, res.end_s, min_rest_s)
    reps = res.reps
    sets: list[SetResult] = []
    for k in range(int(idx[-1]) + 1):
        members = [reps[i] for i in np.flatnonzero(idx == k)]
        if len(members) >= min_set_reps:
            sets.append(SetResult(members[0].start_s, members[-1].end_s, members))
    rests = [RestResult(a.end_s, b.start_s) for a, b in zip(sets[:-1], sets[1:], strict=True)]
    reason = "" if sets else f"no set with >= {min_set_reps} repetitions"
    return SessionResult(sets=sets, rests=rests, reason=reason)
