"""Repetition counting for home exercise from a wrist, thigh or lower-back IMU.

The counter is exercise-agnostic: it finds repetitions from the periodicity of the movement,
without knowing the exercise. An optional profile from the exercise library
(:mod:`features.exercises`) narrows the expected repetition duration.

Method
------
It follows RecoFit [1]_ in spirit (project the multi-axis signal on its principal component,
use the periodicity of that projection, count one repetition per cycle), and departs from it
so that the same computation can run live, with a bounded delay, and give the same answer:

- the principal axis comes from an exponentially weighted covariance of the last few seconds
  (updated every 0.2 s), not from a PCA over a whole window;
- instead of estimating the period by autocorrelation and then picking peaks, cycles are found
  with a Schmitt trigger on the projection (threshold a fraction of the running standard
  deviation with a physical floor), and periodicity is enforced by requiring runs of at least
  three consecutive cycles of similar duration and amplitude (the role of RecoFit's
  autocorrelation threshold: isolated movements and irregular fidgeting count as zero);
- only the band-passed accelerometer is counted (adding the integrated gyroscope lowered
  accuracy on the barbell benchmark); the gyroscope gives the range of motion;
- optional guided mode (``guided=True`` with a profile): a single cycle that is plausible for
  the known exercise counts at once, so a live session can announce the first repetitions of
  a set without waiting for the run (RecoFit has no such mode; it is a latency trade-off).

Range of motion per repetition integrates the angular rate along the principal rotation axis
of that repetition (gyroscope), or, without a gyroscope, measures the largest change of the
gravity direction from the start of the repetition.

References
----------
.. [1] D. Morris, T. S. Saponas, A. Guillory, I. Kelner, "RecoFit: using a wearable sensor to
   find, recognize, and count repetitive exercises", Proc. CHI 2014, 3225-3234.
   https://doi.org/10.1145/2556288.2557116
.. [2] A. Soro, G. Brunner, S. Tanner, R. Wattenhofer, "Recognition and repetition counting
   for complex physical exercises with deep learning", Sensors 19(3):714, 2019.
   https://doi.org/10.3390/s19030714
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from devices.errors import InputError
from features._reps_common import (
    check_accel,
    check_fs,
    check_time,
    check_xyz,
    make_params,
    resample_onto,
    resolve_profile,
    rom_deg,
)
from features._reps_engine import RawRep, RepEngine
from features.exercises import ExerciseProfile

__all__ = ["RepResult", "Repetition", "count_reps"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Repetition:
    """One repetition.

    Attributes
    ----------
    start_s, end_s : float
        Start and end time, seconds from the first sample (or ``t_s[0]`` when given).
    duration_s : float
        ``end_s - start_s``, seconds.
    rom_deg : float
        Range of motion, degrees.
    """

    start_s: float
    end_s: float
    duration_s: float
    rom_deg: float


@dataclass(frozen=True)
class RepResult:
    """Result of :func:`count_reps`.

    Attributes
    ----------
    count : int
        Number of repetitions.
    start_s, end_s, duration_s : ndarray, shape (count,)
        Repetition times and durations, seconds.
    rom_deg : ndarray, shape (count,)
        Range of motion per repetition, degrees.
    run : ndarray of int, shape (count,)
        Index of the run of consistent cycles each repetition belongs to.
    reason : str
        Why the count is zero (empty when ``count > 0``).
    rom_source : str
        ``"gyro"`` or ``"gravity"``.
    period_s : float
        Median repetition duration, seconds (NaN when ``count == 0``).
    """

    count: int
    start_s: Array
    end_s: Array
    duration_s: Array
    rom_deg: Array
    run: NDArray[np.int64]
    reason: str
    rom_source: str
    period_s: float

    @property
    def reps(self) -> list[Repetition]:
        """The repetitions as a list of :class:`Repetition`."""
        return [
            Repetition(float(a), float(b), float(d), float(r))
            for a, b, d, r in zip(
                self.start_s, self.end_s, self.duration_s, self.rom_deg, strict=True
            )
        ]


def zero_reason(engine: RepEngine, n: int, fs_hz: float) -> str:
    """Explain a zero count from the engine diagnostics."""
    if n == 0:
        return "empty recording"
    if engine.cycles_seen == 0:
        if engine.max_h <= engine.p.floor * 1.0001:
            return "no movement above the noise floor"
        return "movement without any complete cycle"
    return (
        f"no repetitive movement: {engine.cycles_seen} movement cycle(s), none in a run of "
        f">= {engine.p.min_run} cycles of similar duration and amplitude"
    )


def build_result(
    raw: list[RawRep],
    accel_g: Array,
    gyro_dps: Array | None,
    fs_hz: float,
    t0_s: float,
    reason: str,
) -> RepResult:
    """Turn raw engine repetitions (sample indices) into a :class:`RepResult`."""
    start = np.array([r.start for r in raw], dtype=np.float64)
    end = np.array([r.end for r in raw], dtype=np.float64)
    rom = np.array(
        [rom_deg(accel_g, gyro_dps, fs_hz, r.start, r.end) for r in raw], dtype=np.float64
    )
    dur = (end - start) / fs_hz
    return RepResult(
        count=len(raw),
        start_s=t0_s + start / fs_hz,
        end_s=t0_s + end / fs_hz,
        duration_s=dur,
        rom_deg=rom,
        run=np.array([r.run_id for r in raw], dtype=np.int64),
        reason="" if raw else reason,
        rom_source="gyro" if gyro_dps is not None else "gravity",
        period_s=float(np.median(dur)) if raw else float("nan"),
    )


def count_reps(
    accel_g: Any,
    fs_hz: float,
    gyro_dps: Any = None,
    *,
    gyro_fs_hz: float | None = None,
    t_s: Any = None,
    profile: ExerciseProfile | str | None = None,
    min_rep_s: float | None = None,
    max_rep_s: float | None = None,
    guided: bool = False,
    placement: str | None = None,
) -> RepResult:
    """Count repetitions of an exercise in an IMU recording.

    Parameters
    ----------
    accel_g : array_like, shape (N, 3)
        Accelerometer, g, any sensor orientation.
    fs_hz : float
        Sample rate of ``accel_g``, Hz (5 to 2000).
    gyro_dps : array_like, shape (N, 3) or (M, 3), optional
        Gyroscope, degrees per second, same sensor. Not used to count (adding it lowered accuracy
        on the barbell benchmark); it gives the range of motion by integration.
    gyro_fs_hz : float, optional
        Sample rate of ``gyro_dps`` when it differs from ``fs_hz`` (e.g. MetaMotion: accel
        12.5 Hz, gyro 25 Hz). The gyroscope is then linearly interpolated onto the accelerometer
        timeline, both assumed to start at the same instant.
    t_s : array_like, shape (N,), optional
        Sample times, seconds; only checked (strictly increasing, consistent with ``fs_hz``)
        and used as the time origin.
    profile : ExerciseProfile or str, optional
        Exercise profile (or library id). Narrows the repetition duration range to
        0.7 x min .. 1.3 x max of the profile's ``rep_duration_s``.
    min_rep_s, max_rep_s : float, optional
        Override the repetition duration range, seconds (default 0.8 to 8 s).
    guided : bool
        Guided session (needs ``profile``): the exercise is known and the patient has started
        it, so a movement cycle outside a run of consistent cycles is counted at once when it
        is plausible for the exercise (duration within the profile's ``rep_duration_s``, range
        of motion within 0.5 x its lowest .. 1.5 x its highest ``rom_deg``, and, after a run
        has been seen, amplitude within x1.5 and principal axis within 37 degrees of that run's).
        Gives the live counter a low latency for the first repetitions of a set, at the price
        of counting a plausible single movement during a rest. It also confirms a trough
        after 0.04 s without a new minimum (normal mode: 0.25 s). Default False: a movement
        counts only inside a run of three consistent cycles. The live counter with the same
        option gives the same repetitions.
    placement : str, optional
        Sensor placement (``"wrist"``, ``"thigh"``, ``"lower_back"``, a key of the profile's
        ``rom_deg``): guided mode then checks the range of motion against that placement's
        range only (0.5 x low .. 1.5 x high, degrees), which rejects more non-exercise
        movements. Only used with ``guided=True``.

    Returns
    -------
    RepResult
        ``count``, start/end/duration per repetition (s), range of motion (degrees), and
        ``reason`` when the count is zero.

    Raises
    ------
    InputError
        (a ``ValueError``) on a wrong shape, NaN or infinite values, a sample rate out of range,
        accelerations in m/s^2, timestamps that are not increasing or do not match ``fs_hz``,
        ``guided=True`` without a profile, or a placement the profile does not list.

    Notes
    -----
    The computation is causal: :class:`features.live.LiveRepCounter` fed with the same samples
    in any chunks reports the same repetitions. See the module docstring for the method and
    where it departs from RecoFit [1]_. A repetition runs from the trough before its movement
    to the trough after it; no cycle may start in the first 2 s (filters settle); a movement
    only counts inside a run of at least three consistent cycles.

    References
    ----------
    .. [1] D. Morris et al., "RecoFit: using a wearable sensor to find, recognize, and count
       repetitive exercises", CHI 2014. https://doi.org/10.1145/2556288.2557116

    Examples
    --------
    >>> from features.synthetic import synth_exercise_set
    >>> rec = synth_exercise_set("squat", 8, seed=2)
    >>> count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps).count
    8
    """
    fs = check_fs(fs_hz)
    acc = check_accel(accel_g)
    n = acc.shape[0]
    gyr: Array | None = None
    if gyro_dps is not None:
        gyr = check_xyz(gyro_dps, "gyro_dps", "deg/s")
        if gyro_fs_hz is not None and float(gyro_fs_hz) != fs:
            gfs = check_fs(gyro_fs_hz, "gyro_fs_hz")
            gyr = resample_onto(gyr, gfs, n, fs)
        elif gyr.shape[0] != n:
            raise InputError(
                "gyro_dps",
                "",
                f"has {gyr.shape[0]} rows, accel_g {n}; pass gyro_fs_hz if rates differ",
            )
    elif gyro_fs_hz is not None:
        check_fs(gyro_fs_hz, "gyro_fs_hz")
    t0 = 0.0
    if t_s is not None:
        t = check_time(t_s, n, fs)
        t0 = float(t[0]) if n else 0.0
    params = make_params(
        resolve_profile(profile), min_rep_s, max_rep_s, guided=guided, placement=placement
    )

    def rom_fn(start: int, end: int) -> float:
        return rom_deg(acc, gyr, fs, start, end)

    engine = RepEngine(fs, params, rom_fn if params.guided else None)
    raw = engine.process(acc) + engine.finish() if n else []
    return build_result(raw, acc, gyr, fs, t0, zero_reason(engine, n, fs))
