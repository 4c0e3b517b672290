"""Batch repetition counting: :func:`count_reps`.

Default mode (exercise-agnostic): movement bouts, then per bout the period by
autocorrelation of the first principal component and one repetition per peak of the
projection on the axis that repeats most at that period (:mod:`features.reps.periodic`, after
RecoFit [1]_). Guided mode (``guided=True`` with a
profile): the causal cycle engine (:mod:`features.reps.engine`), which reports each repetition
as soon as it ends. Both run the same code as :class:`features.reps.live.LiveRepCounter`, so
live and batch give the same repetitions.

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
from features.exercises import ExerciseProfile
from features.reps.engine import RawRep, RepEngine
from features.reps.params import EngineParams, make_params, rep_range_s, resolve_profile
from features.reps.periodic import BoutDetector, PeriodicParams, count_bout
from features.reps.rom import rom_deg
from features.validation import check_accel_g, check_fs, check_time, check_xyz

__all__ = [
    "RepResult",
    "Repetition",
    "count_reps",
    "checked_gyro",
    "count_reps_validated",
    "periodic_reps",
    "set_indices",
]

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
        Index of the group each repetition belongs to: the movement bout (default mode) or
        the run of consistent cycles (guided mode), counting only groups with repetitions.
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


def engine_zero_reason(engine: RepEngine, n: int) -> str:
    """Explain a zero count of the guided engine from its diagnostics."""
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


def periodic_zero_reason(n_bouts: int, n: int, p: PeriodicParams) -> str:
    """Explain a zero count of the default (periodicity) counter."""
    if n == 0:
        return "empty recording"
    if n_bouts == 0:
        return "no movement above the noise floor"
    return (
        f"no repetitive movement: {n_bouts} movement bout(s), none with a run of >= "
        f"{p.min_run} peaks one period apart (autocorrelation at the period >= "
        f"{p.min_autocorr})"
    )


def periodic_reps(
    accel_g: Array, fs_hz: float, start: int, end: int, p: PeriodicParams, run_id: int
) -> list[RawRep]:
    """Repetitions of the bout ``[start, end)`` of ``accel_g`` (g, ``fs_hz`` Hz), in absolute
    sample indices of ``accel_g``; ``emitted_at`` is ``end``."""
    bc = count_bout(accel_g[start:end], fs_hz, p)
    return [
        RawRep(start + int(a), start + int(b), end, 0.0, run_id)
        for a, b in zip(bc.start, bc.end, strict=True)
    ]


def _count_periodic(acc: Array, fs: float, p: PeriodicParams) -> tuple[list[RawRep], str]:
    det = BoutDetector(fs, p)
    bouts = det.process(acc) + det.finish()
    raw: list[RawRep] = []
    for b in bouts:
        raw += periodic_reps(acc, fs, b.start, b.end, p, len({r.run_id for r in raw}))
    return raw, periodic_zero_reason(len(bouts), acc.shape[0], p)


def build_result(
    raw: list[RawRep],
    accel_g: Array,
    gyro_dps: Array | None,
    fs_hz: float,
    t0_s: float,
    reason: str,
    with_rom: bool = True,
) -> RepResult:
    """Turn raw repetitions (sample indices) into a :class:`RepResult`; ``with_rom=False``
    leaves the ranges of motion NaN (degrees, not computed)."""
    start = np.array([r.start for r in raw], dtype=np.float64)
    end = np.array([r.end for r in raw], dtype=np.float64)
    rom = np.array(
        [rom_deg(accel_g, gyro_dps, fs_hz, r.start, r.end) if with_rom else np.nan for r in raw],
        dtype=np.float64,
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


def checked_gyro(gyro_dps: Any, gyro_fs_hz: float | None, n: int, fs: float) -> Array | None:
    """Gyroscope (deg/s, at ``gyro_fs_hz`` Hz when given) checked and put on the timeline of
    ``n`` accelerometer samples at ``fs`` Hz, or None."""
    if gyro_dps is None:
        if gyro_fs_hz is not None:
            check_fs(gyro_fs_hz, "gyro_fs_hz")
        return None
    gyr = np.asarray(check_xyz(gyro_dps, "gyro_dps", "deg/s"), dtype=np.float64)
    if gyro_fs_hz is not None and float(gyro_fs_hz) != fs:
        return resample_onto(gyr, check_fs(gyro_fs_hz, "gyro_fs_hz"), n, fs)
    if gyr.shape[0] != n:
        raise InputError(
            "gyro_dps", "", f"has {gyr.shape[0]} rows, accel_g {n}; pass gyro_fs_hz if rates differ"
        )
    return gyr


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
        Accelerometer, g, any sensor orientation, with or without gravity.
    fs_hz : float
        Sample rate of ``accel_g``, Hz (5 to 2000; evaluated from 12.5 to 200).
    gyro_dps : array_like, shape (N, 3) or (M, 3), optional
        Gyroscope, degrees per second, same sensor. It gives the range of motion (by
        integration); it is not used to count (counting it lowered the accuracy on the
        development data, docs/reps.md). The count is the same with or without it.
    gyro_fs_hz : float, optional
        Sample rate of ``gyro_dps`` when it differs from ``fs_hz`` (e.g. MetaMotion: accel
        12.5 Hz, gyro 25 Hz), Hz. The gyroscope is then linearly interpolated onto the
        accelerometer timeline, both assumed to start at the same instant.
    t_s : array_like, shape (N,), optional
        Sample times, seconds; only checked (strictly increasing, consistent with ``fs_hz``)
        and used as the time origin.
    profile : ExerciseProfile or str, optional
        Exercise profile (or library id). Narrows the repetition duration range to
        0.7 x min .. 1.3 x max of the profile's ``rep_duration_s`` (seconds).
    min_rep_s, max_rep_s : float, optional
        Override the repetition duration range, seconds (default 0.8 to 8 s).
    guided : bool
        Guided session (needs ``profile``): count with the causal cycle engine, which reports
        a movement cycle plausible for the exercise as soon as it ends (duration within the
        profile's ``rep_duration_s``, range of motion within 0.5 x its lowest .. 1.5 x its
        highest ``rom_deg``, and, after a run has been seen, amplitude within x1.5 and
        principal axis within 37 degrees of that run's), at the price of counting a plausible
        single movement during a rest. Default False: the exercise-agnostic periodicity
        counter. The live counter with the same option gives the same repetitions.
    placement : str, optional
        Sensor placement (``"wrist"``, ``"thigh"``, ``"lower_back"``, a key of the profile's
        ``rom_deg``): guided mode then checks the range of motion against that placement's
        range only (0.5 x low .. 1.5 x high, degrees). Only used with ``guided=True``.

    Returns
    -------
    RepResult
        ``count``, start/end/duration per repetition (s), range of motion (degrees), and
        ``reason`` when the count is zero.

    Raises
    ------
    InputError
        (a ``ValueError``) on a wrong shape, NaN or infinite values, a sample rate out of range,
        accelerations in m/s^2 (gravity level at rest above 4, see
        :func:`features.validation.gravity_at_rest_g`), timestamps that are not increasing or
        do not match ``fs_hz``, ``guided=True`` without a profile, or a placement the profile
        does not list.

    Notes
    -----
    Default mode, after RecoFit [1]_: the recording is cut causally into movement bouts
    (:class:`features.reps.periodic.BoutDetector`); each bout is band-passed, its period found
    by autocorrelation of each sliding window's first principal component, and one repetition
    is counted per peak of the projection on the axis of largest covariance one period later,
    at least 0.75 period apart, in runs of at least 3, each run taking at most one more peak as
    large as its own at each end, up to two intervals away
    (:func:`features.reps.periodic.count_bout`). A repetition spans half a period around its
    peak (to the midpoint with a neighbour). Soro et al. [2]_ report 91% within
    +-1 with a learned counter; no learned component is used here.

    Examples
    --------
    >>> from features.synthetic import synth_exercise_set
    >>> rec = synth_exercise_set("squat", 8, seed=2)
    >>> count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps).count
    8
    """
    fs = check_fs(fs_hz)
    acc = check_accel_g(accel_g, fs)
    n = acc.shape[0]
    gyr = checked_gyro(gyro_dps, gyro_fs_hz, n, fs)
    t0 = 0.0
    if t_s is not None:
        t = check_time(t_s, n, fs)
        t0 = float(t[0]) if n else 0.0
    params = make_params(
        resolve_profile(profile), min_rep_s, max_rep_s, guided=guided, placement=placement
    )
    if isinstance(params, PeriodicParams):
        return _periodic_result(acc, gyr, fs, t0, params)
    return _count_guided(acc, gyr, fs, t0, params)


def _periodic_result(
    acc: Array, gyr: Array | None, fs: float, t0: float, p: PeriodicParams, with_rom: bool = True
) -> RepResult:
    """The default counter on a validated accelerometer (g, ``fs`` Hz), as a result whose
    times start at ``t0`` s."""
    raw, reason = _count_periodic(acc, fs, p) if acc.shape[0] else ([], "empty recording")
    return build_result(raw, acc, gyr, fs, t0, reason, with_rom)


def count_reps_validated(
    acc: Array,
    fs_hz: float,
    gyro_dps: Any = None,
    gyro_fs_hz: float | None = None,
    *,
    with_rom: bool = True,
) -> RepResult:
    """:func:`count_reps` in its default mode for an accelerometer the caller has validated
    already: ``acc`` is a float64 (N, 3) array in g that passed
    :func:`features.validation.check_accel_g` (e.g. a slice of a validated recording),
    ``fs_hz`` in Hz; the gyroscope (deg/s, at ``gyro_fs_hz`` Hz when given) is checked as in
    :func:`count_reps`. The same result as ``count_reps(acc, fs_hz, gyro_dps,
    gyro_fs_hz=gyro_fs_hz)``, without validating and judging the unit of ``acc`` again (the
    exercise finder counts a day of wear in hundreds of slices). ``with_rom=False``: the
    ranges of motion are left NaN (for a caller that only needs the repetition times, s)."""
    fs = check_fs(fs_hz)
    n = acc.shape[0]
    gyr = checked_gyro(gyro_dps, gyro_fs_hz, n, fs)
    lo, hi = rep_range_s(None, None, None)  # the default range, as make_params gives it
    return _periodic_result(acc, gyr, fs, 0.0, PeriodicParams(min_rep_s=lo, max_rep_s=hi), with_rom)


def _count_guided(
    acc: Array, gyr: Array | None, fs: float, t0: float, params: EngineParams
) -> RepResult:
    def rom_fn(start: int, end: int) -> float:
        return rom_deg(acc, gyr, fs, start, end)

    engine = RepEngine(fs, params, rom_fn)
    n = acc.shape[0]
    raw = engine.process(acc) + engine.finish() if n else []
    return build_result(raw, acc, gyr, fs, t0, engine_zero_reason(engine, n))


def resample_onto(x: Array, fs_from_hz: float, n: int, fs_to_hz: float) -> Array:
    """Linearly interpolate ``x`` sampled at ``fs_from_hz`` onto ``n`` samples at ``fs_to_hz``."""
    t_from = np.arange(x.shape[0]) / fs_from_hz
    t_to = np.arange(n) / fs_to_hz
    return np.column_stack([np.interp(t_to, t_from, x[:, k]) for k in range(3)])


def set_indices(start_s: Array, end_s: Array, min_rest_s: float) -> NDArray[np.int64]:
    """Set index of each repetition: a new set begins after a gap longer than ``min_rest_s``.

    Causal (depends only on earlier repetitions), so the live counter assigns the same indices.
    """
    out = np.zeros(start_s.shape[0], dtype=np.int64)
    if start_s.size:
        gaps = start_s[1:] - end_s[:-1]
        out[1:] = np.cumsum(gaps > min_rest_s)
    return out
