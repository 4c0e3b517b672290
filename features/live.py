"""Live repetition counter: feed chunks of samples as they arrive, get repetition events.

It runs the same causal engine as :func:`features.reps.count_reps`, so after :meth:`finish`
it has reported exactly the repetitions of the batch counter on the same samples, whatever the
chunk sizes. A repetition is reported once its cycle is complete (the segment is back at the
bottom of the movement) and, for the first repetitions of a set, once the run of consistent
cycles that proves the movement is repetitive is established (three cycles) -- unless
``guided=True``, where a cycle plausible for the known exercise is reported as soon as it ends.
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
    check_xyz,
    make_params,
    resolve_profile,
    rom_deg,
)
from features._reps_engine import RawRep, RepEngine
from features.exercises import ExerciseProfile

__all__ = ["LiveRepCounter", "RepEvent"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class RepEvent:
    """A repetition reported by :class:`LiveRepCounter`.

    Attributes
    ----------
    index : int
        0-based index of the repetition in the stream.
    start_s, end_s : float
        Start and end of the repetition, stream time (seconds since the first sample).
    emitted_at_s : float
        Stream time of the sample whose arrival produced the event, seconds.
    set_index : int
        0-based set, a new set starting after a gap longer than ``min_rest_s``.
    duration_s : float
        ``end_s - start_s``, seconds.
    rom_deg : float
        Range of motion, degrees.
    """

    index: int
    start_s: float
    end_s: float
    emitted_at_s: float
    set_index: int
    duration_s: float
    rom_deg: float


class LiveRepCounter:
    """Count repetitions on a stream.

    Parameters
    ----------
    fs_hz : float
        Sample rate of the accelerometer (and gyroscope chunks, which must be resampled to this
        rate by the caller), Hz.
    profile : ExerciseProfile or str, optional
        Exercise profile or library id, as in :func:`features.reps.count_reps`.
    min_rep_s, max_rep_s : float, optional
        Override the repetition duration range, seconds.
    min_rest_s : float
        A gap between repetitions longer than this starts a new set, seconds.
    guided : bool
        Guided session (needs ``profile``): the exercise is known and the patient has started
        it, so the first repetitions of a set are reported as soon as each cycle ends, when the
        cycle is plausible for the exercise (see ``guided`` in
        :func:`features.reps.count_reps`), instead of after the third consistent cycle. Default
        False. ``count_reps(..., guided=True)`` on the same samples gives the same repetitions.
    placement : str, optional
        Sensor placement (a key of the profile's ``rom_deg``): the guided range-of-motion check
        then uses that placement's range only. Only used with ``guided=True``.

    Examples
    --------
    >>> from features.synthetic import synth_exercise_set
    >>> rec = synth_exercise_set("bridge", 6, seed=4)
    >>> live = LiveRepCounter(rec.fs_hz)
    >>> events = []
    >>> for i in range(0, len(rec.t_s), 25):
    ...     events += live.update(rec.accel_g[i : i + 25], rec.gyro_dps[i : i + 25])
    >>> len(events + live.finish())
    6
    """

    def __init__(
        self,
        fs_hz: float,
        profile: ExerciseProfile | str | None = None,
        *,
        min_rep_s: float | None = None,
        max_rep_s: float | None = None,
        min_rest_s: float = 10.0,
        guided: bool = False,
        placement: str | None = None,
    ) -> None:
        self.fs_hz = check_fs(fs_hz)
        params = make_params(
            resolve_profile(profile), min_rep_s, max_rep_s, guided=guided, placement=placement
        )
        self.guided = params.guided
        self._engine = RepEngine(self.fs_hz, params, self._rom if params.guided else None)
        self.min_rest_s = float(min_rest_s)
        # History kept for the range of motion: long enough for the cycles a confirmed run
        # reports at once (min_run + max_back), each up to two max_rep_s from the last.
        self._keep = (
            int(2 * (params.min_run + params.max_back + 1) * params.max_rep_s * self.fs_hz) + 1
        )
        self._acc = np.zeros((0, 3))
        self._gyr: Array | None = None
        self._hist_start = 0
        self._with_gyro: bool | None = None
        self._count = 0
        self._set = -1
        self._last_end_s = -np.inf
        self._finished = False

    @property
    def count(self) -> int:
        """Repetitions reported so far."""
        return self._count

    def update(self, accel_chunk: Any, gyro_chunk: Any = None) -> list[RepEvent]:
        """Feed the next samples; return the repetitions completed by them.

        Parameters
        ----------
        accel_chunk : array_like, shape (M, 3)
            Accelerometer, g. ``M`` may be 0.
        gyro_chunk : array_like, shape (M, 3), optional
            Gyroscope, degrees per second, at ``fs_hz``. Give it for every chunk or for none.

        Raises
        ------
        InputError
            Wrong shape, NaN, gyroscope given for some chunks only, or update after finish.
        """
        if self._finished:
            raise InputError("LiveRepCounter", "", "update() after finish()")
        acc = (
            check_accel(accel_chunk)
            if np.size(accel_chunk)
            else check_xyz(accel_chunk, "accel_g", "g")
        )
        gyr = None
        if gyro_chunk is not None:
            gyr = check_xyz(gyro_chunk, "gyro_dps", "deg/s")
            if gyr.shape[0] != acc.shape[0]:
                raise InputError(
                    "gyro_dps", "", f"chunk has {gyr.shape[0]} rows, accel chunk {acc.shape[0]}"
                )
        if acc.shape[0] == 0:
            return []
        with_gyro = gyr is not None
        if self._with_gyro is None:
            self._with_gyro = with_gyro
            self._gyr = np.zeros((0, 3)) if with_gyro else None
        elif self._with_gyro != with_gyro:
            raise InputError("gyro_dps", "", "give the gyroscope with every chunk or with none")
        self._acc = np.concatenate([self._acc, acc])
        if self._gyr is not None and gyr is not None:
            self._gyr = np.concatenate([self._gyr, gyr])
        raw = self._engine.process(acc)
        events = self._events(raw)
        self._trim()
        return events

    def finish(self) -> list[RepEvent]:
        """End of stream: report a last repetition cut by the end, if any."""
        if self._finished:
            return []
        self._finished = True
        return self._events(self._engine.finish())

    def _rom(self, start: int, end: int) -> float:
        """Range of motion (degrees) of absolute samples [start, end] from the history."""
        a = start - self._hist_start
        if a < 0:
            return float("nan")
        return rom_deg(self._acc, self._gyr, self.fs_hz, a, end - self._hist_start)

    def _trim(self) -> None:
        extra = self._acc.shape[0] - self._keep
        if extra > self._keep:  # amortised: cut when twice the needed length
            self._acc = self._acc[extra:]
            if self._gyr is not None:
                self._gyr = self._gyr[extra:]
            self._hist_start += extra

    def _events(self, raw: list[RawRep]) -> list[RepEvent]:
        fs = self.fs_hz
        out: list[RepEvent] = []
        for r in raw:
            a, b = r.start - self._hist_start, r.end - self._hist_start
            rom = rom_deg(self._acc, self._gyr, fs, a, b) if a >= 0 else float("nan")
            start_s, end_s = r.start / fs, r.end / fs
            if start_s - self._last_end_s > self.min_rest_s:
                self._set += 1
            self._last_end_s = end_s
            out.append(
                RepEvent(
                    index=self._count,
                    start_s=start_s,
                    end_s=end_s,
                    emitted_at_s=(r.emitted_at) / fs,
                    set_index=self._set,
                    duration_s=end_s - start_s,
                    rom_deg=rom,
                )
            )
            self._count += 1
        return out
