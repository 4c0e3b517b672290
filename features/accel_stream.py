"""Steps and wear of one accelerometer segment, streamed chunk by chunk in bounded memory.

:class:`SegmentDeriver` takes the irregularly timed samples of one continuous segment in time
order, in chunks of any size, and gives what one-shot processing of the whole segment gives:

1. :func:`features.steps.resample_uniform` onto a uniform grid (linear interpolation, NaN inside
   gaps longer than ``max_gap_s``), streamed by :class:`UniformResampler`: grid point ``k`` is
   ``t0 + round(k * 1e9 / fs_hz)`` ns and is interpolated between the same two samples as in
   one-shot resampling, so the values are bit for bit the same;
2. steps: :func:`features.steps.count_steps` with ``nan_policy="gap"`` streamed by
   :class:`features.steps.StepCounter` (a segment without gaps) or
   :class:`features.steps.GapStepCounter` (a segment with gaps); whether the segment has gaps
   must be told up front (``has_gaps``: any two consecutive samples more than ``max_gap_s``
   apart), because one-shot counting chooses by the presence of a gap anywhere;
3. wear: per-minute statistics of whole minutes of the grid
   (:func:`features.activity.accel_minute_stats`), joined and classified at the end by
   :func:`features.activity.wear_from_minute_stats` (van Hees 2013).

Memory is that of one chunk plus the step times and one row of statistics per minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from devices.errors import InputError
from features.activity import MinuteStats, WearResult, accel_minute_stats, wear_from_minute_stats
from features.steps import GapStepCounter, StepCounter

__all__ = ["SegmentDeriver", "SegmentResult", "UniformResampler"]

NS_PER_S = 1_000_000_000
FloatArray = npt.NDArray[np.float64]


class UniformResampler:
    """Streaming :func:`features.steps.resample_uniform` of one segment.

    Parameters
    ----------
    t0_ns:
        Time of the segment's first sample, ns (grid point 0).
    fs_hz:
        Grid rate, Hz.
    max_gap_s:
        Grid points strictly inside a gap longer than this, s, are NaN.
    """

    def __init__(self, t0_ns: int, fs_hz: float, max_gap_s: float = 0.5) -> None:
        self.t0_ns = int(t0_ns)
        self.fs_hz = float(fs_hz)
        self.max_gap_ns = max_gap_s * 1e9
        self._k = 0  # next grid index
        self._prev_t: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self._prev_v: FloatArray = np.empty((0, 3))

    @property
    def n_out(self) -> int:
        """Grid points produced so far."""
        return self._k

    def update(
        self, t_ns: npt.NDArray[np.int64], values: FloatArray, *, final: bool = False
    ) -> FloatArray:
        """Add samples (strictly increasing, after the previous ones); return new grid rows.

        Rows up to (not including) the last sample's time are returned; with ``final`` the
        rest, up to the last sample (with one-shot resampling's 1e-9 s tolerance).
        """
        t = np.concatenate([self._prev_t, np.asarray(t_ns, np.int64)])
        v = np.concatenate([self._prev_v, np.asarray(values, np.float64).reshape(-1, 3)])
        if t.size == 0:
            return np.empty((0, 3))
        rel = (t - self.t0_ns).astype(np.float64) / 1e9
        fs = self.fs_hz
        if final:
            k1 = int(np.floor(rel[-1] * fs + 1e-9)) + 1
        else:
            k1 = int(np.ceil(rel[-1] * fs))  # every k with k / fs < rel[-1]
            while k1 > self._k and (k1 - 1) / fs >= rel[-1]:
                k1 -= 1
            while k1 / fs < rel[-1]:
                k1 += 1
        grid_s = np.arange(self._k, max(k1, self._k)) / fs
        out = np.empty((grid_s.size, 3))
        for j in range(3):
            out[:, j] = np.interp(grid_s, rel, v[:, j])
        if t.size > 1 and grid_s.size:
            dt = np.diff(t)
            k = np.clip(np.searchsorted(rel, grid_s, side="right") - 1, 0, t.size - 2)
            gap = (dt[k] > self.max_gap_ns) & (grid_s > rel[k]) & (grid_s < rel[k + 1])
            out[gap] = np.nan
        self._k = max(k1, self._k)
        self._prev_t, self._prev_v = t[-1:], v[-1:]
        return out

    def grid_ns(self, k: int) -> int:
        """UTC ns of grid point ``k`` (as :func:`features.steps.resample_uniform` rounds it)."""
        return self.t0_ns + int(np.round(np.arange(k, k + 1) / self.fs_hz * 1e9)[0])


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """Steps and wear of one segment.

    Attributes
    ----------
    start_ns:
        UTC ns of the first grid point (the segment's first sample).
    last_ns:
        UTC ns of the last grid point.
    step_times_s:
        Step times, s from ``start_ns``.
    wear:
        Per-minute wear from ``start_ns``.
    """

    start_ns: int
    last_ns: int
    step_times_s: FloatArray = field(repr=False)
    wear: WearResult = field(repr=False)


class SegmentDeriver:
    """Stream one segment's samples; :meth:`finish` gives its :class:`SegmentResult`.

    Parameters
    ----------
    t0_ns:
        UTC ns of the segment's first sample.
    fs_hz:
        Grid rate, Hz (``60 * fs_hz`` must be whole samples).
    has_gaps:
        True when two consecutive samples of the segment are more than ``max_gap_s`` apart.
    max_gap_s:
        Gap threshold of the resampling, s.
    """

    def __init__(self, t0_ns: int, fs_hz: float, *, has_gaps: bool, max_gap_s: float = 0.5) -> None:
        spm = 60.0 * fs_hz
        if abs(spm - round(spm)) > 1e-9:
            raise InputError("segment", "fs_hz", f"60 * {fs_hz} Hz is not whole samples")
        self._spm = int(round(spm))
        self._rs = UniformResampler(t0_ns, fs_hz, max_gap_s)
        self._counter: StepCounter | GapStepCounter = (
            GapStepCounter(fs_hz) if has_gaps else StepCounter(fs_hz)
        )
        self._times: list[FloatArray] = []
        self._stats: list[MinuteStats] = []
        self._rem: FloatArray = np.empty((0, 3))
        self.fs_hz = float(fs_hz)

    def update(self, t_ns: npt.NDArray[np.int64], values: FloatArray) -> None:
        """Add the next samples of the segment (UTC ns, (n, 3) g)."""
        self._grid(self._rs.update(t_ns, values))

    def _grid(self, g: FloatArray) -> None:
        if g.shape[0] == 0:
            return
        out = self._counter.update(g)
        if out is not None:
            self._times.append(out)
        buf = np.concatenate([self._rem, g]) if self._rem.size else g
        whole = buf.shape[0] // self._spm * self._spm
        if whole:
            self._stats.append(accel_minute_stats(buf[:whole], self.fs_hz))
        self._rem = buf[whole:].copy()

    def finish(self) -> SegmentResult:
        """Flush the end of the segment; return its steps and wear."""
        self._grid(self._rs.update(np.empty(0, np.int64), np.empty((0, 3)), final=True))
        self._times.append(self._counter.finish())
        if self._rem.shape[0]:
            self._stats.append(accel_minute_stats(self._rem, self.fs_hz))
        start = self._rs.t0_ns
        stats = MinuteStats.concat(self._stats) if self._stats else None
        wear = (
            wear_from_minute_stats(stats, start_ns=start)
            if stats is not None
            else WearResult(start, np.zeros(0, bool))
        )
        return SegmentResult(
            start,
            self._rs.grid_ns(max(self._rs.n_out - 1, 0)),
            np.concatenate(self._times),
            wear,
        )
