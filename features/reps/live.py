"""Live repetition counter: feed chunks of samples as they arrive, get repetition events.

It runs the same code as :func:`features.reps.count_reps`, so after :meth:`finish` it has
reported exactly the repetitions of the batch counter on the same samples, whatever the chunk
sizes:

- default mode: the causal bout detector runs on every chunk; when a bout closes (the movement
  has stayed below the activity level for ``bout_gap_s``, 4 s) its samples are counted like
  the batch counter counts them, and its repetitions are reported together. Latency: the end
  of the set plus about 4 s.
- guided mode (``guided=True`` with a profile): the causal cycle engine reports a repetition
  plausible for the known exercise as soon as its cycle ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from devices.errors import InputError
from features.exercises import ExerciseProfile
from features.reps.counter import periodic_reps
from features.reps.engine import RawRep, RepEngine
from features.reps.params import make_params, resolve_profile
from features.reps.periodic import BoutDetector, PeriodicParams
from features.reps.rom import rom_deg
from features.validation import check_accel_g, check_fs, check_xyz

__all__ = ["LiveRepCounter", "RepEvent"]

Array = NDArray[np.float64]

#: The unit (g, not m/s^2) is judged once this much stream has arrived, seconds.
UNIT_CHECK_S = 2.0


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
        Guided session (needs ``profile``): each repetition is reported as soon as its cycle
        ends when it is plausible for the exercise (see ``guided`` in
        :func:`features.reps.count_reps`). Default False: the repetitions of a bout are
        reported when the bout ends. ``count_reps`` with the same options on the same samples
        gives the same repetitions.
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
        self.guided = not isinstance(params, PeriodicParams)
        self._engine: RepEngine | None = None
        self._bouts: BoutDetector | None = None
        self._periodic: PeriodicParams | None = None
        if isinstance(params, PeriodicParams):
            self._periodic = params
            self._bouts = BoutDetector(self.fs_hz, params)
            self._keep = 0
        else:
            self._engine = RepEngine(self.fs_hz, params, self._rom)
            # History kept for the range of motion: long enough for the cycles a confirmed run
            # reports at once (min_run + max_back), each up to two max_rep_s from the last.
            self._keep = (
                int(2 * (params.min_run + params.max_back + 1) * params.max_rep_s * self.fs_hz) + 1
            )
        self.min_rest_s = float(min_rest_s)
        self._acc = np.zeros((0, 3))
        self._gyr: Array | None = None
        self._hist_start = 0
        self._with_gyro: bool | None = None
        self._count = 0
        self._runs = 0
        self._set = -1
        self._last_end_s = -np.inf
        self._finished = False
        self._unit_checked = False

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
        acc = np.asarray(check_xyz(accel_chunk, "accel_g", "g"), dtype=np.float64)
        gyr = self._check_gyro(gyro_chunk, acc.shape[0])
        if acc.shape[0] == 0:
            return []
        self._acc = np.concatenate([self._acc, acc])
        self._check_unit()
        if self._gyr is not None and gyr is not None:
            self._gyr = np.concatenate([self._gyr, gyr])
        if self._engine is not None:
            events = self._events(self._engine.process(acc))
        else:
            events = self._bout_events(self._bouts_closed(acc))
        self._trim()
        return events

    def finish(self) -> list[RepEvent]:
        """End of stream: report the repetitions of a bout (or cycle) cut by the end."""
        if self._finished:
            return []
        self._finished = True
        if self._engine is not None:
            return self._events(self._engine.finish())
        assert self._bouts is not None
        return self._bout_events(self._bouts.finish())

    def _check_unit(self) -> None:
        """Judge g against m/s^2 once, on the first :data:`UNIT_CHECK_S` seconds of history
        (the gravity level at rest, as the batch counter); a chunk alone is too short."""
        if self._unit_checked or self._acc.shape[0] < UNIT_CHECK_S * self.fs_hz:
            return
        self._unit_checked = True
        check_accel_g(self._acc, self.fs_hz)

    def _check_gyro(self, gyro_chunk: Any, m: int) -> Array | None:
        gyr = None
        if gyro_chunk is not None:
            gyr = np.asarray(check_xyz(gyro_chunk, "gyro_dps", "deg/s"), dtype=np.float64)
            if gyr.shape[0] != m:
                raise InputError("gyro_dps", "", f"chunk has {gyr.shape[0]} rows, accel chunk {m}")
        if m == 0:
            return gyr
        with_gyro = gyr is not None
        if self._with_gyro is None:
            self._with_gyro = with_gyro
            self._gyr = np.zeros((0, 3)) if with_gyro else None
        elif self._with_gyro != with_gyro:
            raise InputError("gyro_dps", "", "give the gyroscope with every chunk or with none")
        return gyr

    def _bouts_closed(self, acc: Array) -> list[Any]:
        assert self._bouts is not None
        return self._bouts.process(acc)

    def _bout_events(self, bouts: list[Any]) -> list[RepEvent]:
        """Count each closed bout from the history, as the batch counter does."""
        assert self._periodic is not None
        raw: list[RawRep] = []
        hs = self._hist_start
        for b in bouts:
            reps = periodic_reps(self._acc, self.fs_hz, b.start - hs, b.end - hs, self._periodic, 0)
            for r in reps:
                raw.append(RawRep(r.start + hs, r.end + hs, b.closed_at, 0.0, self._runs))
            self._runs += 1 if reps else 0
        return self._events(raw)

    def _rom(self, start: int, end: int) -> float:
        """Range of motion (degrees) of absolute samples [start, end] from the history."""
        a = start - self._hist_start
        if a < 0:
            return float("nan")
        return rom_deg(self._acc, self._gyr, self.fs_hz, a, end - self._hist_start)

    def _trim(self) -> None:
        if self._bouts is not None:
            extra = self._bouts.keep_from() - self._hist_start
            if extra <= self._acc.shape[0] // 2:  # amortised: cut when half can go
                return
        else:
            extra = self._acc.shape[0] - self._keep
            if extra <= self._keep:  # amortised: cut when twice the needed length
                return
        self._acc = self._acc[extra:]
        if self._gyr is not None:
            self._gyr = self._gyr[extra:]
        self._hist_start += extra

    def _events(self, raw: list[RawRep]) -> list[RepEvent]:
        fs = self.fs_hz
        out: list[RepEvent] = []
        for r in raw:
            start_s, end_s = r.start / fs, r.end / fs
            if start_s - self._last_end_s > self.min_rest_s:
                self._set += 1
            self._last_end_s = end_s
            out.append(
                RepEvent(
                    index=self._count,
                    start_s=start_s,
                    end_s=end_s,
                    emitted_at_s=r.emitted_at / fs,
                    set_index=self._set,
                    duration_s=end_s - start_s,
                    rom_deg=self._rom(r.start, r.end),
                )
            )
            self._count += 1
        return out
