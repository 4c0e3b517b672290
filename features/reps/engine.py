"""Causal cycle engine of the guided mode (``guided=True``) of :func:`features.reps.count_reps`
and :class:`features.reps.live.LiveRepCounter`.

The batch counter runs this engine over the whole recording in one chunk; the live counter
feeds it chunk by chunk. Every step is causal and carries its state across chunks (``sosfilt``
and ``lfilter`` with initial conditions, principal axes recomputed at absolute sample indices,
a state machine that resumes where it stopped), so both give the same repetitions whatever the
chunk sizes.

Steps
-----
1. Band-pass the accelerometer (g): the gravity projection follows the orientation of the
   segment, and the linear acceleration its translation. (The gyroscope is not used to count:
   on the barbell benchmark, adding its integrated rate to the channels lowered accuracy; it
   gives the range of motion, in :mod:`features.reps.rom`.)
2. Principal axis of those channels over the last few seconds (exponentially weighted
   covariance, eigen-decomposed every ``hop_s``); project onto it (RecoFit's PCA step).
3. Schmitt trigger on the projection: a cycle leaves the rest pose, crosses ``+h`` (``h`` a
   fraction of the running standard deviation, never below a physical floor), comes back below
   ``down_frac * h`` and ends at the next trough.
4. A cycle becomes a repetition only inside a run of consistent cycles: ``min_run`` (3)
   consecutive cycles whose end-to-end periods are within ``dur_ratio``, amplitudes within
   ``amp_ratio``, durations within the expected range, and whose projection autocorrelates
   (>= ``min_autocorr`` at the median period, RecoFit's periodicity test). The first cycles of
   a run are reported when the run is confirmed, with up to ``max_back`` earlier pending cycles
   consistent with the run. Much smaller or much shorter cycles inside a run are fragments of
   a repetition and are merged into the next cycle. Isolated movements are never counted,
   except in guided mode (``guided``): there a cycle outside a run that is plausible for the
   known exercise (duration, range of motion via ``rom_fn``, and amplitude and axis close to
   the last run's) is reported as soon as it ends.
5. Reported times are moved back by the band-pass group delay at 0.4 Hz.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from features.reps.params import EngineParams

Array = NDArray[np.float64]


class CycleState(Enum):
    """Where the projection is in a movement cycle."""

    REST = "rest"  # inside +-h: waiting for a movement
    RISING = "rising"  # beyond +h in the cycle's direction: waiting for the return
    FALLING = "falling"  # back below down_frac * h: tracking the trough that ends the cycle
    BETWEEN = "between"  # a cycle ended: the next must start within max_rep_s


@dataclass(frozen=True)
class _Chunk:
    """One chunk's projection (g) and threshold (g), as arrays and lists, and its first
    absolute sample index."""

    q: Array
    h: Array
    ql: list[float]
    hl: list[float]
    base: int


@dataclass
class RawRep:
    """A confirmed repetition in absolute sample indices."""

    start: int
    end: int
    emitted_at: int
    amplitude: float
    run_id: int


@dataclass
class _Cycle:
    start: int
    end: int
    amplitude: float
    reported: bool = False
    #: Range of motion, degrees (guided mode; NaN until computed).
    rom_deg: float = math.nan


class RepEngine:
    """Causal repetition engine (see module docstring). Inputs are validated by callers."""

    def __init__(
        self,
        fs_hz: float,
        params: EngineParams,
        rom_fn: Callable[[int, int], float] | None = None,
    ) -> None:
        self.fs_hz = fs_hz
        self.p = params
        # Range of motion (degrees) of absolute samples [start, end], for guided mode.
        self._rom_fn = rom_fn
        self._g_lo_n = params.guided_rep_s[0] * fs_hz
        self._g_hi_n = params.guided_rep_s[1] * fs_hz
        self._ref_amp = 0.0  # median amplitude of the last run (0: none yet)
        self._ref_axis = np.zeros(3)
        self._ref_rom = math.nan  # median range of motion of the last run, degrees (guided)
        nyq = 0.5 * fs_hz
        hp_hz = 0.5 / params.max_rep_s
        lp_hz = min(params.lowpass_hz, 0.8 * nyq)
        self._sos = signal.butter(2, [hp_hz / nyq, lp_hz / nyq], btype="bandpass", output="sos")
        n_ch = 3
        # Group delay of the band-pass at 0.4 Hz (a 2.5 s repetition), removed from the times.
        # (summed over the second-order sections, better conditioned than the whole transfer).
        gd = sum(
            float(signal.group_delay((sec[:3], sec[3:]), w=[0.4], fs=fs_hz)[1][0])
            for sec in self._sos
        )
        self._delay_n = max(0, round(gd))
        self.n_ch = n_ch
        self._zi_unit_acc = signal.sosfilt_zi(self._sos)
        self._zi_acc = np.zeros((self._sos.shape[0], 2, 3))
        self._iu = np.triu_indices(n_ch)
        alpha = 1.0 - math.exp(-1.0 / (params.cov_window_s * fs_hz))
        self._cov_b = np.array([alpha])
        self._cov_a = np.array([1.0, alpha - 1.0])
        self._zi_cov = np.zeros((1, len(self._iu[0])))
        self._hop_n = max(1, round(params.hop_s * fs_hz))
        self._flat_n = max(1, round(params.trough_flat_s * fs_hz))
        self._min_rep_n = params.min_rep_s * fs_hz
        self._max_rep_n = params.max_rep_s * fs_hz
        self._settle_n = round(params.settle_s * fs_hz)  # no cycle starts before this
        # Principal axis state.
        self._v = np.zeros(n_ch)
        self._v[0] = 1.0
        self._h = params.floor
        # State machine.
        self.n = 0  # absolute index of the next sample
        self._state = CycleState.REST
        self._sign = 1.0
        self._cyc_start = 0
        self._cyc_max = -np.inf
        self._min_val = np.inf
        self._min_idx = 0
        self._start_val = 0.0
        self._last_end = 0
        self._pending: list[_Cycle] = []
        self._periods: list[int] = []
        self._frag: _Cycle | None = None
        #: Diagnostics for the reason of a zero count.
        self.cycles_seen = 0
        self.max_h = 0.0
        self._run: list[_Cycle] = []
        self._run_id = -1
        self._tail_q = np.zeros(0)  # recent projection, to find the start of a first cycle
        self._tail_start = 0
        self._q_cur: Array = np.zeros(0)
        self._v_cur: Array = np.zeros((0, 3))
        self._base = 0

    # -- signal path -------------------------------------------------------------------
    def _project(self, accel_g: Array) -> tuple[Array, Array, Array]:
        if self.n == 0:
            # Start the filter in steady state on the first sample (no start-up transient).
            self._zi_acc = self._zi_unit_acc[:, :, None] * accel_g[0][None, None, :]
        x, self._zi_acc = signal.sosfilt(self._sos, accel_g, axis=0, zi=self._zi_acc)
        m = x.shape[0]
        prods = x[:, self._iu[0]] * x[:, self._iu[1]]
        cov, self._zi_cov = signal.lfilter(self._cov_b, self._cov_a, prods, axis=0, zi=self._zi_cov)
        idx = self.n + np.arange(m)
        hops = np.flatnonzero((idx + 1) % self._hop_n == 0)
        v_per = np.empty((m, self.n_ch))
        h_per = np.empty(m)
        if hops.size:
            mats = np.zeros((hops.size, self.n_ch, self.n_ch))
            mats[:, self._iu[0], self._iu[1]] = cov[hops]
            mats[:, self._iu[1], self._iu[0]] = cov[hops]
            w, vecs = np.linalg.eigh(mats)
            v = vecs[:, :, -1]
            lam = np.maximum(w[:, -1], 0.0)
            # Keep the sign continuous: flips[k] compares raw v[k] with raw v[k-1] (the
            # aligned carry for k = 0); their running product aligns every axis.
            flips = np.ones(hops.size)
            flips[0] = -1.0 if float(v[0] @ self._v) < 0 else 1.0
            if hops.size > 1:
                flips[1:] = np.where(np.sum(v[1:] * v[:-1], axis=1) < 0, -1.0, 1.0)
            v = v * np.cumprod(flips)[:, None]
            h = np.maximum(self.p.hi_frac * np.sqrt(lam), self.p.floor)
            # Sample i uses the axis of the last hop at or before i (the carry before the first).
            seg = np.searchsorted(hops, np.arange(m), side="right") - 1
            first = seg < 0
            v_per[first] = self._v
            h_per[first] = self._h
            v_per[~first] = v[seg[~first]]
            h_per[~first] = h[seg[~first]]
            self._v = v[-1].copy()
            self._h = float(h[-1])
            self.max_h = max(self.max_h, float(np.max(h)))
        else:
            v_per[:] = self._v
            h_per[:] = self._h
        q = np.einsum("ij,ij->i", x, v_per)
        return q, h_per, v_per

    # -- state machine -----------------------------------------------------------------
    def process(self, accel_g: Array) -> list[RawRep]:
        """Feed accelerometer samples (validated, g); return newly confirmed repetitions."""
        m = accel_g.shape[0]
        if m == 0:
            return []
        q, h, v_per = self._project(accel_g)
        base = self.n
        self._q_cur, self._base, self._v_cur = q, base, v_per
        chunk = _Chunk(q, h, q.tolist(), h.tolist(), base)
        out: list[RawRep] = []
        steps = {
            CycleState.REST: self._step_rest,
            CycleState.RISING: self._step_rising,
            CycleState.FALLING: self._step_falling,
            CycleState.BETWEEN: self._step_between,
        }
        i = 0
        while i < m:
            nxt = steps[self._state](chunk, i, out)
            if nxt < 0:
                break
            i = nxt
        # Keep a short tail of q (absolute indexing) for locating the start of a first cycle.
        self._remember_tail(q, int((self.p.min_run + 1) * self._max_rep_n) + 1)
        self.n = base + m
        self._tail_start = self.n - self._tail_q.size
        self._q_cur, self._base, self._v_cur = np.zeros(0), self.n, np.zeros((0, 3))
        return out

    def _step_rest(self, c: _Chunk, i: int, out: list[RawRep]) -> int:
        """At rest: wait for the projection to leave +-h; returns the next index or -1."""
        j = _first_abs_above(c.q, c.h, i)
        if j < 0:
            return -1
        if c.base + j < self._settle_n:
            return max(j + 1, self._settle_n - c.base)
        self._sign = 1.0 if c.ql[j] > 0 else -1.0
        self._cyc_start = self._find_start(c.q, c.base, j, c.hl[j])
        self._start_val = 0.0
        self._cyc_max = self._sign * c.ql[j]
        self._state = CycleState.RISING
        return j + 1

    def _step_rising(self, c: _Chunk, i: int, out: list[RawRep]) -> int:
        """Rising: wait until the projection returns below ``down_frac * h``."""
        s = self._sign
        j = _first_below(c.q, s, c.h, self.p.down_frac, i)
        if j < 0:
            self._cyc_max = max(self._cyc_max, float(np.max(s * c.q[i:])))
            return -1
        if j > i:
            self._cyc_max = max(self._cyc_max, float(np.max(s * c.q[i:j])))
        self._state = CycleState.FALLING
        self._min_val = s * c.ql[j]
        self._min_idx = c.base + j
        return j + 1

    def _step_falling(self, c: _Chunk, i: int, out: list[RawRep]) -> int:
        """Falling: track the trough; it is confirmed by a rise or by a flat stretch."""
        s = self._sign
        m = len(c.ql)
        rise = self.p.trough_rise_frac
        while i < m:
            v = s * c.ql[i]
            if v < self._min_val:
                self._min_val = v
                self._min_idx = c.base + i
            elif v > self._min_val + rise * c.hl[i] or c.base + i - self._min_idx >= self._flat_n:
                break
            i += 1
        if i >= m:
            return -1
        cyc = _Cycle(self._cyc_start, self._min_idx, self._cyc_max - self._min_val)
        self._last_end = self._min_idx
        out.extend(self._accept(cyc, c.base + i))
        self._state = CycleState.BETWEEN
        self._cyc_start = self._min_idx
        return i + 1

    def _step_between(self, c: _Chunk, i: int, out: list[RawRep]) -> int:
        """Between cycles: the next must begin within ``max_rep_s`` of the last trough."""
        s = self._sign
        m = len(c.ql)
        limit = self._last_end + int(self._max_rep_n) - c.base
        stop = min(m, max(limit, i))
        j = _first_above(c.q, s, c.h, i, stop)
        if j >= 0:
            self._cyc_max = s * c.ql[j]
            # The new cycle starts at the lowest point since the last trough.
            self._cyc_start, self._start_val = self._rise_start(c.q, c.base, self._last_end, j, s)
            self._state = CycleState.RISING
            return j + 1
        if stop < m:
            self._end_run()
            self._state = CycleState.REST
            return stop
        return -1

    def finish(self) -> list[RawRep]:
        """End of stream: a cycle waiting for its trough ends at the lowest point so far."""
        out: list[RawRep] = []
        if self._state is CycleState.FALLING:
            cyc = _Cycle(self._cyc_start, self._min_idx, self._cyc_max - self._min_val)
            out.extend(self._accept(cyc, self.n, partial=True))
        elif self._state is CycleState.RISING and self._tail_q.size:
            # The recording stopped during the return: close the cycle at the last sample.
            cyc = _Cycle(self._cyc_start, self.n - 1, self._cyc_max - self._start_val)
            out.extend(self._accept(cyc, self.n, partial=True))
        self._end_run()
        self._state = CycleState.REST
        return out

    # -- helpers -----------------------------------------------------------------------
    def _remember_tail(self, q: Array, keep: int) -> None:
        tail = np.concatenate([self._tail_q, q]) if self._tail_q.size else q.copy()
        self._tail_q = tail[-keep:]

    def _window(self, q: Array, base: int, a_abs: int, b_abs: int) -> Array:
        """Projection over absolute [a_abs, b_abs) from the tail and the current chunk."""
        parts = []
        if a_abs < base:
            t0 = max(a_abs, self._tail_start)
            parts.append(self._tail_q[t0 - self._tail_start : min(b_abs, base) - self._tail_start])
        if b_abs > base:
            lo = max(a_abs, base) - base
            parts.append(q[lo : b_abs - base])
        if not parts:
            return np.zeros(0)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _find_start(self, q: Array, base: int, i: int, h_i: float) -> int:
        """Start of a first cycle: the last sample before the crossing ``i`` still within
        ``start_frac * h`` of the rest level, looking back at most half the longest repetition."""
        a_abs = max(self._tail_start, base + i - int(0.5 * self._max_rep_n), 0)
        w = self._sign * self._window(q, base, a_abs, base + i + 1)
        below = np.flatnonzero(w <= self.p.start_frac * h_i)
        k = int(below[-1]) if below.size else 0
        if self.p.start_at_min and w.size > 2:
            # Or where the rise begins, if later: the last local minimum below half the
            # threshold (a slow drift during a rest can keep the level above start_frac * h).
            d = np.diff(w)
            minima = np.flatnonzero((d[:-1] <= 0) & (d[1:] > 0)) + 1
            minima = minima[w[minima] <= 0.5 * h_i]
            if minima.size:
                k = max(k, int(minima[-1]))
        return a_abs + k

    def _rise_start(self, q: Array, base: int, a_abs: int, j: int, s: float) -> tuple[int, float]:
        """Start of a cycle after the trough at ``a_abs``, given its crossing at ``j``.

        Normally the lowest point since the trough. After a long pause (more than half the
        longest repetition) it is where the rise begins, the last local minimum before the
        crossing, so the pause is not part of the repetition. Returns the index and the value.
        """
        w = s * self._window(q, base, a_abs, base + j + 1)
        lo = int(np.argmin(w))
        if base + j - a_abs <= 0.5 * self._max_rep_n:
            return a_abs + lo, float(w[lo])
        d = np.diff(w[lo:])
        minima = np.flatnonzero((d[:-1] <= 0) & (d[1:] > 0)) + 1  # local minima after lo
        k = lo + int(minima[-1]) if minima.size else lo
        return a_abs + k, float(w[k])

    def _accept(self, cyc: _Cycle, now: int, *, partial: bool = False) -> list[RawRep]:
        """Decide whether a completed cycle is a repetition.

        Consistency is judged on the end-to-end period (end of the previous cycle to the end
        of this one), which stays regular when the pause at the rest pose varies. A cycle much
        smaller than its neighbours (``frag_frac``) is a fragment of a repetition (a ripple at
        the turn-around) and is merged into the next cycle instead of breaking the run.
        """
        self.cycles_seen += 1
        if self._frag is not None:
            cyc = _Cycle(self._frag.start, cyc.end, max(cyc.amplitude, self._frag.amplitude))
            self._frag = None
        dur = cyc.end - cyc.start
        ok_dur = self._min_rep_n <= dur <= self._max_rep_n
        if self._run:
            verdict = self._extend_run(cyc, now, ok_dur, partial=partial)
            if verdict is not None:
                return verdict
            self._end_run()
        if partial or not ok_dur:
            self._pending = []
            return []
        queued = self._add_pending(cyc)
        if queued is None:
            return []
        guided_now = self.p.guided and self._guided_ok(queued, now)
        tail = self._pending[-self.p.min_run :]
        if not (self._run_confirmed() and self._same_rom(tail, now)):
            return self._report_guided(queued, now) if guided_now else []
        return self._confirm_run(now)

    def _extend_run(
        self, cyc: _Cycle, now: int, ok_dur: bool, *, partial: bool
    ) -> list[RawRep] | None:
        """A cycle after a run: extends it (reps), is a fragment ([]), or ends it (None)."""
        p = self.p
        dur = cyc.end - cyc.start
        period = cyc.end - self._run[-1].end
        ref_per = float(np.median(self._periods))
        ref_amp = float(np.median([c.amplitude for c in self._run]))
        if partial:
            # Cut by the end of the stream: only extends a run, with a relaxed check.
            if dur < 0.5 * self._min_rep_n or cyc.amplitude * p.amp_ratio < ref_amp:
                return []
            self._run.append(cyc)
            return [self._rep(cyc, now)]
        short = period < p.frag_period_frac * ref_per
        if short or (cyc.amplitude < p.frag_frac * ref_amp and period < ref_per):
            self._frag = cyc
            return []
        if not (
            ok_dur
            and _similar(period, ref_per, p.dur_ratio)
            and _similar(cyc.amplitude, ref_amp, p.amp_ratio)
        ):
            return None
        if p.guided and not (self._same_axis(now) and self._same_rom([cyc], now)):
            return None
        self._run.append(cyc)
        self._periods.append(period)
        cyc.reported = True
        self._set_reference(now)
        return [self._rep(cyc, now)]

    def _add_pending(self, cyc: _Cycle) -> _Cycle | None:
        """Queue a cycle outside a run (merging fragments); None when it is a fragment."""
        p = self.p
        pend = self._pending
        if pend and cyc.start - pend[-1].end <= self._max_rep_n:
            prev = pend[-1]
            if cyc.amplitude < p.frag_frac * prev.amplitude:
                self._frag = cyc
                return None
            if prev.amplitude < p.frag_frac * cyc.amplitude and not prev.reported:
                merged = _Cycle(prev.start, cyc.end, cyc.amplitude)
                if merged.end - merged.start <= self._max_rep_n:
                    pend.pop()
                    cyc = merged
        elif pend:
            pend.clear()
        pend.append(cyc)
        del pend[: -(p.min_run + p.max_back)]
        return cyc

    def _run_confirmed(self) -> bool:
        """Do the last ``min_run`` pending cycles form a run (period, amplitude, autocorr)?"""
        p = self.p
        if len(self._pending) < p.min_run:
            return False
        tail = self._pending[-p.min_run :]
        periods = _periods_of(tail)
        amps = [c.amplitude for c in tail]
        return (
            max(periods) <= p.dur_ratio * min(periods)
            and max(amps) <= p.amp_ratio * min(amps)
            and self._autocorr(tail, float(np.median(periods))) >= p.min_autocorr
        )

    def _confirm_run(self, now: int) -> list[RawRep]:
        """Start a run from the pending cycles and report those not reported yet.

        Up to ``max_back`` earlier pending cycles that are consistent with it (period and
        amplitude) belong to it too and are counted now, retroactively: e.g. a first
        repetition that failed the autocorrelation test with two irregular neighbours.
        """
        p = self.p
        pend = self._pending
        tail = pend[-p.min_run :]
        periods = _periods_of(tail)
        ref_per = float(np.median(periods))
        ref_amp = float(np.median([c.amplitude for c in tail]))
        k = len(pend) - p.min_run
        while k > 0:
            c = pend[k - 1]
            per = c.end - c.start if k == 1 else c.end - pend[k - 2].end
            if not (
                _similar(per, ref_per, p.dur_ratio) and _similar(c.amplitude, ref_amp, p.amp_ratio)
            ):
                break
            if p.guided and not c.reported and not self._plausible(c, now):
                break
            k -= 1
        self._run = list(pend[k:])
        self._periods = _periods_of(self._run)
        self._pending = []
        self._run_id += 1
        self._set_reference(now)
        out = [self._rep(c, now) for c in self._run if not c.reported]
        for c in self._run:
            c.reported = True
        return out

    def _report_guided(self, cyc: _Cycle, now: int) -> list[RawRep]:
        """Report a plausible cycle before its run is confirmed (guided mode).

        It carries the index the next run will get.
        """
        cyc.reported = True
        return [self._rep(cyc, now, self._run_id + 1)]

    def _axis_at(self, now: int) -> Array:
        """Principal axis in force at absolute sample ``now`` (the current chunk, else last)."""
        k = now - self._base
        if 0 <= k < self._v_cur.shape[0]:
            return self._v_cur[k]
        return self._v

    def _set_reference(self, now: int) -> None:
        """Remember the current run's amplitude and axis, for guided plausibility checks."""
        self._ref_amp = float(np.median([c.amplitude for c in self._run]))
        self._ref_axis = self._axis_at(now).copy()
        if self.p.guided and self._rom_fn is not None:
            self._ref_rom = float(np.median([self._rom(c, now) for c in self._run]))

    def _guided_ok(self, cyc: _Cycle, now: int) -> bool:
        """Is a cycle outside a run plausible for the exercise (guided mode)?"""
        p = self.p
        if not self._plausible(cyc, now):
            return False
        if self._ref_amp > 0:
            if not _similar(cyc.amplitude, self._ref_amp, p.guided_amp_ratio):
                return False
            if not self._same_axis(now):
                return False
        if self._rom_fn is not None:
            lo, hi = p.guided_rom_deg
            if not lo <= self._rom(cyc, now) <= hi:  # False for NaN too
                return False
        return True

    def _plausible(self, cyc: _Cycle, now: int) -> bool:
        """Guided mode: duration within ``guided_rep_s`` and range of motion within
        ``guided_rom_ratio`` of the last run's (a single cycle, or an earlier cycle joining a
        new run)."""
        dur_ok = self._g_lo_n <= cyc.end - cyc.start <= self._g_hi_n
        return dur_ok and self._same_rom([cyc], now)

    def _same_axis(self, now: int) -> bool:
        """Is the principal axis at ``now`` within ``acos(guided_axis_cos)`` of the last run's
        (True before any run)?"""
        if self._ref_amp <= 0:
            return True
        return abs(float(self._axis_at(now) @ self._ref_axis)) >= self.p.guided_axis_cos

    def _rom(self, cyc: _Cycle, now: int) -> float:
        """Range of motion of a cycle, degrees (computed once; NaN without ``rom_fn``)."""
        if math.isnan(cyc.rom_deg) and self._rom_fn is not None:
            r = self._rep(cyc, now)
            cyc.rom_deg = self._rom_fn(r.start, r.end)
        return cyc.rom_deg

    def _same_rom(self, cycles: list[_Cycle], now: int) -> bool:
        """Guided mode: is the median range of motion of ``cycles`` within
        ``guided_rom_ratio`` of the last run's (True outside guided mode, before any run, or
        without ``rom_fn``)? Movement in a rest (a drifting or fidgeting sensor) passes the
        amplitude and period tests of a run, but turns the segment far less, or far more, than
        the exercise did a set before. A range of motion that cannot be measured (NaN) is not
        judged."""
        if not self.p.guided or self._rom_fn is None or not self._ref_rom > 0:
            return True
        rom = float(np.median([self._rom(c, now) for c in cycles]))
        return math.isnan(rom) or _similar(rom, self._ref_rom, self.p.guided_rom_ratio)

    def _rep(self, c: _Cycle, now: int, run_id: int | None = None) -> RawRep:
        """A repetition with its times moved back by the filter's group delay."""
        d = self._delay_n
        rid = self._run_id if run_id is None else run_id
        return RawRep(max(c.start - d, 0), max(c.end - d, 0), now, c.amplitude, rid)

    def _autocorr(self, pend: list[_Cycle], lag: float) -> float:
        """Pearson autocorrelation of the projection over the cycles at one period (RecoFit)."""
        a, b = pend[0].start, pend[-1].end
        if a < self._tail_start:
            return 0.0
        w = self._window(self._q_cur, self._base, a, b + 1)
        k = round(lag)
        if k < 1 or w.size - k < 3:
            return 0.0
        x, y = w[:-k], w[k:]
        x = x - x.mean()
        y = y - y.mean()
        den = math.sqrt(float(x @ x) * float(y @ y))
        return float(x @ y) / den if den > 0 else 0.0

    def _end_run(self) -> None:
        self._run = []
        self._periods = []
        self._pending = []
        self._frag = None


def _periods_of(cycles: list[_Cycle]) -> list[int]:
    """End-to-end periods (samples): the first cycle's duration, then end to end."""
    return [cycles[0].end - cycles[0].start] + [
        cycles[k].end - cycles[k - 1].end for k in range(1, len(cycles))
    ]


def _similar(a: float, b: float, ratio: float) -> bool:
    return b > 0 and a > 0 and max(a, b) <= ratio * min(a, b)


def _first_abs_above(q: Array, h: Array, i: int) -> int:
    return _first_true(lambda a, b: np.abs(q[a:b]) > h[a:b], q.size, i)


def _first_above(x: Array, s: float, thr: Array, i: int, n: int) -> int:
    return _first_true(lambda a, b: s * x[a:b] > thr[a:b], n, i)


def _first_below(x: Array, s: float, thr: Array, frac: float, i: int) -> int:
    return _first_true(lambda a, b: s * x[a:b] < frac * thr[a:b], x.size, i)


def _first_true(cond: Callable[[int, int], NDArray[np.bool_]], n: int, i: int) -> int:
    """First index >= i where ``cond`` holds, scanning in growing blocks; -1 if none."""
    step = 64
    a = i
    while a < n:
        b = min(n, a + step)
        hit = np.flatnonzero(cond(a, b))
        if hit.size:
            return a + int(hit[0])
        a = b
        step *= 2
    return -1
