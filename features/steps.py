"""Step counting from triaxial accelerometry, batch and streaming.

The algorithm is orientation-free (it works on the vector magnitude) and placement-free (one
parameter set for wrist, hip, lower back and a phone in the hand, a pocket or a bag):

1. **Decimate** by block means of ``q`` samples to an internal rate of 25-50 Hz, then take the
   **vector magnitude** (float32 throughout).
2. **Band-pass** the magnitude with a linear-phase FIR (windowed sinc, 0.5-3 Hz, 3 s), which
   removes gravity exactly and keeps step times undelayed.
3. **Candidate peaks**: local maxima (+-0.1 s) above ``max(min_peak_g, rel_threshold * local
   RMS)`` - the adaptive threshold of windowed peak detection (Salvi et al. 2018 [1]_).
4. **Local step period** from the normalised autocorrelation of a 5 s window around each 0.5 s
   hop: the first autocorrelation peak reaching half the best one, halved when half of it
   still correlates (left/right asymmetry makes the stride lag win; cf. the periodicity test of
   Brajdic & Harle 2013 [2]_ and the autocorrelation step detector of Rai et al. 2012 [3]_).
   A hop whose best autocorrelation is below ``min_periodicity`` is not walking: its peaks are
   dropped.
5. **One peak per step**: a candidate must be the highest within ``step_fraction`` of the local
   period (an adaptive minimum distance, instead of the fixed one of [1]_); a single missing
   step in a regular walk (a gap of 1.6-2.4 periods right after a one-period interval) is put
   half-way.
   When two steps are a stride apart (>= ``stride_min_s``) and the highest suppressed peak lies
   in the middle of the gap with a comparable height, it is the other leg's step (one leg
   dominates the signal of a phone in a back pocket).
6. **Walk gating**: steps count only in runs of ``min_run_steps`` with gaps of at most
   ``max_step_gap_s`` ([2]_ gate on walking before counting), which rejects isolated movements;
   a first interval much shorter than the walk's, or a first peak much lower than the next
   ones, is a weight shift (or a pre-walk movement) and its peak is dropped.
7. **Closing step**: a walk that ends in a pause gets one step one interval after its last
   step (the step that brings the feet together is almost invisible at the lower back).

Departures from [1]_: FIR instead of IIR, autocorrelation-adaptive peak distance, the
periodicity gate and the rules of stages 5-7; the numeric parameters were tuned on the Oxford
optimisation set only (``docs/steps.md`` has the figures and an ablation).

Every stage needs only a bounded neighbourhood of a sample, so :class:`StepCounter` processes a
week of 100 Hz data in chunks with a few MB of state and finds exactly the same steps as one-shot
processing (:func:`count_steps` feeds the array to it in chunks of :data:`COUNT_CHUNK` rows, so
its memory does not grow with the length of the input).

References
----------
.. [1] Salvi D, Velardo C, Brynes J, Tarassenko L. "An optimised algorithm for accurate steps
   counting from smart-phone accelerometry." Proc. IEEE EMBC 2018.
.. [2] Brajdic A, Harle R. "Walk detection and step counting on unconstrained smartphones."
   Proc. ACM UbiComp 2013: 225-234.
.. [3] Rai A, Chintalapudi KK, Padmanabhan VN, Sen R. "Zee: zero-effort crowdsourcing for
   indoor localization." Proc. ACM MobiCom 2012 (autocorrelation-based step detection).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from devices.errors import InputError
from features.validation import STEP_FS_RANGE_HZ, check_fs, check_xyz

__all__ = [
    "GapStepCounter",
    "MAX_FS_HZ",
    "MIN_FS_HZ",
    "StepCounter",
    "StepParams",
    "StepResult",
    "count_steps",
    "resample_uniform",
]

MIN_FS_HZ, MAX_FS_HZ = STEP_FS_RANGE_HZ
"""Accepted sample rates, Hz (features.validation.STEP_FS_RANGE_HZ: steps reach 3-4 Hz; below
10 Hz the band-pass is meaningless)."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StepParams:
    """Parameters of the step counter. One set for every placement; all in physical units.

    The numeric defaults were chosen on the Oxford optimisation set (48 phone walks), never per
    file or per placement; the stride-rescue, initiation and closing-step rules were added after
    looking at the Oxford validation and IPOL errors (``docs/steps.md`` has the ablation).

    Attributes
    ----------
    internal_fs_hz:
        Target internal rate after block-mean decimation, Hz. The actual rate is
        ``fs_hz / q`` with ``q = max(1, floor(fs_hz / internal_fs_hz))``.
    band_hz:
        Pass band (-6 dB points) of the FIR band-pass on the magnitude, Hz.
    filter_s:
        Length of the FIR band-pass, s.
    min_step_interval_s:
        Shortest step period considered, s (0.25 s = 240 steps/min).
    rms_window_s:
        Centred window of the local RMS used by the adaptive threshold, s.
    rel_threshold:
        A peak must exceed ``rel_threshold`` times the local RMS of the filtered magnitude.
    min_peak_g:
        Absolute floor of a peak of the filtered magnitude, g.
    ac_window_s:
        Window of the autocorrelation that estimates the local step period, s.
    hop_s:
        The period is estimated once per hop of this length, s.
    max_period_s:
        Longest lag searched for the period, s (a stride at slow walking).
    first_peak_frac:
        The period is the first autocorrelation peak reaching this fraction of the highest.
    half_lag_corr:
        A period is halved when the autocorrelation at half of it exceeds this value.
    min_periodicity:
        Hops whose highest autocorrelation is below this are not walking.
    step_fraction:
        A step must be the highest peak within this fraction of the local period.
    fill_missing:
        Put a step half-way across a gap of 1.6-2.4 local periods inside a regular walk.
    closing_step:
        Add the closing step of a walk that ends in a pause (unless its last step was weak).
    stride_rescue:
        A suppressed peak in the middle 40 % of a gap of at least ``stride_min_s`` becomes a
        step when its height is at least this fraction of the lower neighbour (0 disables).
    stride_min_s:
        Shortest gap between two steps examined by the stride rescue, s.
    initiation_ratio:
        When a walk is confirmed, a first interval below this fraction of the median of the
        next ones is a weight shift: the first peak is dropped (0 disables).
    initiation_height:
        When a walk is confirmed, a first peak lower than this fraction of the median height of
        the next ones is a weight shift or a pre-walk movement: it is dropped (0 disables).
    closing_min_height:
        The closing step is not added when the last step of the walk is lower than this
        fraction of the median height of the walk's previous steps (that weak step was the
        closing step).
    min_run_steps:
        Minimum number of consecutive steps of a walk; shorter runs are discarded.
    max_step_gap_s:
        Largest gap between consecutive steps of one walk, s.
    time_offset_s:
        Constant added to every step time, s.
    """

    internal_fs_hz: float = 25.0
    band_hz: tuple[float, float] = (0.5, 3.0)
    filter_s: float = 3.0
    min_step_interval_s: float = 0.25
    rms_window_s: float = 4.0
    rel_threshold: float = 0.4
    min_peak_g: float = 0.02
    ac_window_s: float = 5.0
    hop_s: float = 0.5
    max_period_s: float = 1.2
    first_peak_frac: float = 0.5
    half_lag_corr: float = 0.0
    min_periodicity: float = 0.35
    step_fraction: float = 0.55
    fill_missing: bool = True
    closing_step: bool = True
    stride_rescue: float = 0.7
    stride_min_s: float = 0.9
    initiation_ratio: float = 0.7
    initiation_height: float = 0.3
    closing_min_height: float = 0.3
    min_run_steps: int = 6
    max_step_gap_s: float = 1.5
    time_offset_s: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.band_hz
        if not (0 < lo < hi):
            raise InputError("step params", "band_hz", f"need 0 < low < high, got {self.band_hz}")
        if self.internal_fs_hz < 2.5 * hi:
            raise InputError(
                "step params", "internal_fs_hz", f"{self.internal_fs_hz} Hz too low for {hi} Hz"
            )
        for name in ("min_step_interval_s", "rms_window_s", "max_step_gap_s"):
            if not getattr(self, name) > 0:
                raise InputError("step params", name, "must be > 0")
        if self.min_run_steps < 1:
            raise InputError("step params", "min_run_steps", "must be >= 1")


@dataclass(frozen=True, slots=True)
class StepResult:
    """Steps found in a recording.

    Attributes
    ----------
    count:
        Number of steps.
    step_times_s:
        float64 array (count,), time of each step in seconds from the first sample.
    fs_hz:
        Sample rate of the input, Hz.
    duration_s:
        Length of the input, s (``N / fs_hz``).
    """

    count: int
    step_times_s: FloatArray = field(repr=False)
    fs_hz: float
    duration_s: float


# --------------------------------------------------------------------------- validation


def _check_fs(fs_hz: float) -> float:
    """Sample rate in Hz within :data:`MIN_FS_HZ` .. :data:`MAX_FS_HZ` (features.validation)."""
    return check_fs(fs_hz, "fs_hz", STEP_FS_RANGE_HZ)


def _check_accel(accel_g: npt.ArrayLike, *, allow_nan: bool = False) -> npt.NDArray[np.floating]:
    """Accelerometer (N >= 1, 3) in g, float32 kept (features.validation)."""
    return check_xyz(
        accel_g,
        "accel_g",
        "g",
        allow_nan=allow_nan,
        allow_empty=False,
        keep_float32=True,
        nan_hint="; use nan_policy='gap' to split at gaps",
    )


# --------------------------------------------------------------------------- filter design


def bandpass_fir(
    band_hz: tuple[float, float], fs_hz: float, length_s: float
) -> npt.NDArray[np.float32]:
    """Linear-phase FIR band-pass (windowed sinc, Hamming window) with exactly zero DC gain.

    Parameters
    ----------
    band_hz:
        (low, high) cut-off frequencies, Hz (-6 dB points).
    fs_hz:
        Sample rate, Hz.
    length_s:
        Filter length, s; rounded to an odd number of taps.

    Returns
    -------
    float32 (L,) symmetric taps; the delay is ``(L - 1) / 2`` samples.

    References
    ----------
    Oppenheim AV, Schafer RW. *Discrete-Time Signal Processing*, 3rd ed., 2010, sec. 7.5
    (design of FIR filters by windowing).
    """
    n_taps = int(round(length_s * fs_hz)) // 2 * 2 + 1
    n = np.arange(n_taps) - (n_taps - 1) / 2
    win = np.hamming(n_taps)

    def lowpass(fc_hz: float) -> npt.NDArray[np.float64]:
        h = 2 * fc_hz / fs_hz * np.sinc(2 * fc_hz / fs_hz * n) * win
        return h / h.sum()

    h = lowpass(band_hz[1]) - lowpass(band_hz[0])
    return h.astype(np.float32)


# --------------------------------------------------------------------------- streaming core


class StepCounter:
    """Streaming step counter: feed chunks of any size, get the new step times.

    Parameters
    ----------
    fs_hz:
        Sample rate of the chunks, Hz (10-10000).
    params:
        :class:`StepParams`; defaults are used when ``None``.

    Notes
    -----
    State is bounded: the filter's last samples, about 7 s of the filtered magnitude at the
    internal rate, and the steps of the walk being decided. Every decision depends on a bounded
    neighbourhood, so splitting the input into chunks of any size gives identical step times
    (tested on random chunkings and on a synthetic week). A step is reported once its walk is
    confirmed, so it can lag the input by up to ``min_run_steps`` steps; :meth:`finish`
    flushes what is left.

    Examples
    --------
    >>> import numpy as np
    >>> sc = StepCounter(100.0)
    >>> t = sc.update(np.zeros((500, 3)) + [0, 0, 1.0])
    >>> sc.finish().size, sc.count
    (0, 0)
    """

    def __init__(self, fs_hz: float, params: StepParams | None = None) -> None:
        self.fs_hz = _check_fs(fs_hz)
        self.params = p = params if params is not None else StepParams()
        self._q = max(1, int(self.fs_hz // p.internal_fs_hz))
        fs_int = self.fs_hz / self._q
        self.internal_fs_hz = fs_int
        self._fir = bandpass_fir(p.band_hz, fs_int, p.filter_s)
        self._fir_half = (self._fir.size - 1) // 2
        self._carry: npt.NDArray[np.float32] | None = None
        self._last_mag = np.float32(0.0)
        # samples, converted once
        self._w0 = max(1, int(round(0.1 * fs_int)))
        self._min_dist = max(1, int(round(p.min_step_interval_s * fs_int)))
        self._half_rms = max(1, int(round(p.rms_window_s * fs_int / 2)))
        self._half_ac = max(2, int(round(p.ac_window_s * fs_int / 2)))
        self._lags = np.arange(
            max(1, int(np.floor(p.min_step_interval_s * fs_int))),
            int(np.ceil(p.max_period_s * fs_int)) + 1,
        )
        self._hop = max(1, int(round(p.hop_s * fs_int)))
        self._nfft = int(2 ** np.ceil(np.log2(2 * (2 * self._half_ac + 1))))
        self._ctx = (
            self._hop
            + max(self._half_rms, self._half_ac + int(self._lags[-1]))
            + 2 * self._lags[-1]
        )
        self._max_gap = p.max_step_gap_s
        # time of internal sample k, s from the first input sample: k / fs_int + offset (the
        # block mean is centred (q - 1) / 2 samples in; the FIR is centred, so has no delay)
        self._t_offset_s = (self._q - 1) / (2 * self.fs_hz) + p.time_offset_s
        # buffers
        self._rem = np.empty((0, 3), dtype=np.float32)
        self._y = np.empty(0, dtype=np.float32)
        self._y_start = 0  # internal index of self._y[0]
        self._done = 0  # internal index up to which candidates were decided
        self._n_in = 0
        self._pending: list[float] = []
        self._run_confirmed = False
        self._last_peak_s = -np.inf
        self._last_interval_s = np.inf
        self._last_period_s = np.inf
        self._heights: list[float] = []
        self._suppressed: tuple[float, float] = (np.nan, -np.inf)
        self._count = 0
        self._finished = False

    @property
    def count(self) -> int:
        """Steps reported so far (by :meth:`update` and :meth:`finish`)."""
        return self._count

    def update(self, accel_g_chunk: npt.ArrayLike) -> FloatArray:
        """Process one chunk, (n, 3) in g; return times of newly confirmed steps, s from start.

        Raises
        ------
        ValueError (:class:`devices.errors.InputError`)
            Wrong shape or NaN/inf samples, or called after :meth:`finish`.
        """
        if self._finished:
            raise InputError("step counter", "update", "already finished")
        a = np.asarray(accel_g_chunk)
        if a.ndim == 2 and a.shape[1] == 3 and a.shape[0] == 0:
            return np.empty(0)
        a = _check_accel(a)
        self._n_in += a.shape[0]
        return self._process(a, final=False)

    def finish(self) -> FloatArray:
        """Flush the end of the signal; return the last confirmed step times, s from start."""
        if self._finished:
            return np.empty(0)
        out = self._process(np.empty((0, 3), dtype=np.float32), final=True)
        self._finished = True
        return out

    # -- internals

    def _decimate(self, a: npt.NDArray[np.floating], final: bool) -> npt.NDArray[np.float32]:
        """Block means of ``q`` samples, then the vector magnitude (float32, g)."""
        q = self._q
        if self._rem.shape[0]:
            a = np.concatenate([self._rem, a.astype(np.float32, copy=False)])
        m = a.shape[0] // q
        self._rem = np.array(a[m * q :], dtype=np.float32)
        if q > 1:
            flat = a[: m * q].reshape(m, q * 3)
            acc = flat[:, 0:3].astype(np.float32)
            for j in range(1, q):
                acc += flat[:, 3 * j : 3 * j + 3]
            blocks = acc
        else:
            blocks = a.astype(np.float32, copy=False)
        if final and self._rem.shape[0]:
            blocks = np.concatenate([blocks, self._rem.mean(axis=0, keepdims=True) * q])
            self._rem = self._rem[:0]
        # magnitude of the block sums, scaled once to the magnitude of the block means
        mag = np.sqrt(np.einsum("ij,ij->i", blocks, blocks))
        mag *= np.float32(1.0 / q)
        return mag.astype(np.float32, copy=False)

    def _filter(self, mag: npt.NDArray[np.float32], final: bool) -> npt.NDArray[np.float32]:
        """Centred FIR band-pass, streamed: output ``j`` belongs to magnitude sample ``j``.

        The signal is extended at both ends by repeating its first and last sample (``D`` =
        half the filter length), so the first and last outputs need no special case.
        """
        d = self._fir_half
        if mag.size:
            if self._carry is None:
                self._carry = np.full(d, mag[0], dtype=np.float32)
            self._last_mag = mag[-1]
            x = np.concatenate([self._carry, mag])
        else:
            x = self._carry if self._carry is not None else np.empty(0, np.float32)
        if final:
            x = np.concatenate([x, np.full(d, self._last_mag, dtype=np.float32)])
        if x.size <= 2 * d:
            self._carry = x
            return np.empty(0, dtype=np.float32)
        y = np.convolve(x, self._fir, mode="valid")
        self._carry = x[x.size - 2 * d :]
        return y.astype(np.float32, copy=False)

    def _process(self, a: npt.NDArray[np.floating], final: bool) -> FloatArray:
        mag = self._decimate(a, final)
        if mag.size or (final and self._carry is not None):
            self._y = np.concatenate([self._y, self._filter(mag, final)])
        n_total = self._y_start + self._y.size
        stop = n_total if final else n_total - self._ctx
        out: list[float] = []
        if stop > self._done:
            peaks_s, period_s, height_g = self._candidates(self._done, stop)
            self._done = stop
            for t, per, h in zip(
                peaks_s.tolist(), period_s.tolist(), height_g.tolist(), strict=True
            ):
                if per != per:  # nan: suppressed by a higher neighbour
                    if h > self._suppressed[1]:
                        self._suppressed = (t, h)
                    continue
                self._add_peak(t, per, h, out)
        # the run is over if no peak can join it any more (a pause), or at the end of the data
        t_now = (self._done - 1) / self.internal_fs_hz + self._t_offset_s
        paused = t_now - self._last_peak_s > self._max_gap
        if paused or final:
            self._close_run(out, end=not paused)
        # keep context for the next chunk
        keep_from = max(self._y_start, self._done - self._ctx)
        self._y = self._y[keep_from - self._y_start :]
        self._y_start = keep_from
        self._count += len(out)
        return np.asarray(out, dtype=np.float64)

    def _candidates(self, start: int, stop: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Peaks with internal index in [start, stop): times (s), local periods (s; negative
        where not periodic) and heights (g)."""
        y = self._y.astype(np.float64)
        b0 = self._y_start
        p = self.params
        lo = start - b0
        hi = stop - b0
        # 1. local maxima over +-w0 samples above the adaptive threshold
        w0 = self._w0
        seg = y[max(lo - w0, 0) : hi + w0]
        first = lo - max(lo - w0, 0)
        ypad = np.concatenate(
            [
                np.full(w0 - first, seg[0]),
                seg,
                np.full(w0 - (seg.size - first - (hi - lo)), seg[-1]),
            ]
        )
        ymax = ypad[0 : hi - lo].copy()
        for j in range(1, 2 * w0 + 1):
            np.maximum(ymax, ypad[j : j + hi - lo], out=ymax)
        cand = np.flatnonzero(y[lo:hi] >= ymax) + lo
        if cand.size == 0:
            return np.empty(0), np.empty(0), np.empty(0)
        c = np.concatenate([[0.0], np.cumsum(y * y)])
        a0 = np.maximum(cand - self._half_rms, 0)
        a1 = np.minimum(cand + self._half_rms + 1, y.size)
        rms = np.sqrt(np.maximum(c[a1] - c[a0], 0.0) / (a1 - a0))
        cand = cand[y[cand] > np.maximum(p.min_peak_g, p.rel_threshold * rms)]
        if cand.size == 0:
            return np.empty(0), np.empty(0), np.empty(0)
        # 2. local step period from the autocorrelation of a centred window
        radius, period = self._suppression_radius(y, cand)
        # 3. keep a candidate only if it is the highest within its radius (ties: earliest)
        keep = np.ones(cand.size, dtype=bool)
        for r in np.unique(radius):
            sel = np.flatnonzero(radius == r)
            offs = np.arange(-r, r + 1)
            idx = np.clip(cand[sel, None] + offs, 0, y.size - 1)
            win = y[idx]
            before = np.where(offs < 0, win >= y[cand[sel], None], win > y[cand[sel], None])
            keep[sel] = ~before.any(axis=1)
        # suppressed candidates are returned too (period as nan) for the stride check
        return (
            (cand + b0) / self.internal_fs_hz + self._t_offset_s,
            np.where(keep, period / self.internal_fs_hz, np.nan),
            y[cand],
        )

    def _suppression_radius(
        self, y: npt.NDArray[np.float64], cand: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Half-width, samples, within which a step must be the highest peak; step period.

        ``step_fraction`` of the local step period. The period is the lag of the highest
        autocorrelation (unbiased, normalised) in ``[min_step_interval_s, max_period_s]`` of an
        ``ac_window_s`` window centred on the candidate's hop (``hop_s`` grid); a lag is halved
        when the autocorrelation at half the lag exceeds ``half_lag_corr`` (asymmetric left and
        right steps make the stride lag win).
        """
        p = self.params
        hw = self._half_ac
        lags = self._lags
        hop = self._hop
        b0 = self._y_start
        hops, inv = np.unique((cand + b0) // hop, return_inverse=True)
        centres = hops * hop + hop // 2 - b0
        idx = np.clip(centres[:, None] + np.arange(-hw, hw + 1), 0, y.size - 1)
        x = y[idx].astype(np.float32)
        x -= x.mean(axis=1, keepdims=True)
        n_win = 2 * hw + 1
        spec = np.fft.rfft(x, n=self._nfft, axis=1)
        ac = np.fft.irfft(spec.real**2 + spec.imag**2, n=self._nfft, axis=1)
        r0 = ac[:, :1] + 1e-30
        r = ac[:, lags] / r0 * (n_win / (n_win - lags))
        rows = np.arange(hops.size)
        best = np.argmax(r, axis=1)
        rbest = r[rows, best]
        # the first local maximum of r over lag that reaches a fraction of the best one (the
        # step lag, not the stride or a longer multiple; asymmetric steps lower it)
        peak = np.zeros_like(r, dtype=bool)
        peak[:, 1:-1] = (r[:, 1:-1] >= r[:, :-2]) & (r[:, 1:-1] >= r[:, 2:])
        peak[rows, best] = True
        thr = np.maximum(p.first_peak_frac * rbest, p.half_lag_corr)
        first = np.argmax(peak & (r >= thr[:, None]), axis=1)
        first = np.where((peak & (r >= thr[:, None]))[rows, first], first, best)
        lag = lags[first].astype(np.float64)
        # asymmetric left/right steps: the stride lag wins but half of it still correlates
        half = np.rint(lag / 2).astype(np.intp) - lags[0]
        ok = half >= 1
        hv = np.full(hops.size, -np.inf)
        for d in (-1, 0, 1):
            h = np.clip(half + d, 0, lags.size - 1)
            hv = np.maximum(hv, np.where(ok, r[rows, h], -np.inf))
        lag = np.where(ok & (hv > p.half_lag_corr), lag / 2, lag)
        rad = np.maximum(np.rint(p.step_fraction * lag).astype(np.intp), self._w0)
        # a hop that is not periodic is not walking: its peaks may only end a walk
        periodic = rbest >= p.min_periodicity
        rad = np.where(periodic, rad, self._min_dist)
        out: npt.NDArray[np.intp] = rad[inv]
        # the period is returned negative where the hop is not periodic
        return out, np.where(periodic, lag, -lag)[inv]

    def _add_peak(self, t: float, period_s: float, height_g: float, out: list[float]) -> None:
        gap = t - self._last_peak_s
        if period_s < 0:
            return  # not periodic: not walking
        ts, hs = self._suppressed
        self._suppressed = (np.nan, -np.inf)
        if gap > self._max_gap:
            self._close_run(out, end=False)
        elif (
            self.params.stride_rescue > 0
            and self._heights
            and self.params.stride_min_s <= gap
            and 0.3 * gap <= ts - self._last_peak_s <= 0.7 * gap
            and hs >= self.params.stride_rescue * min(self._heights[-1], height_g)
        ):
            # the period found was a stride (one leg dominates): a peak almost as high as its
            # neighbours between two steps is the other leg's step
            self._accept(ts)
            self._heights = [*self._heights[-7:], hs]
            self._emit(out)
        elif (
            self.params.fill_missing
            and 1.6 * period_s <= gap <= 2.4 * period_s
            and 0.8 * period_s <= self._last_interval_s <= 1.2 * period_s
        ):
            # one step of a walk that was stepping at the local period fell below the
            # threshold: put it half-way
            self._accept(self._last_peak_s + gap / 2)
            self._emit(out)
        self._accept(t)
        self._last_period_s = period_s
        self._heights = [*self._heights[-7:], height_g]
        self._emit(out)

    def _accept(self, t: float) -> None:
        self._last_interval_s = t - self._last_peak_s
        self._last_peak_s = t
        self._pending.append(t)

    def _emit(self, out: list[float]) -> None:
        if self._run_confirmed or len(self._pending) >= self.params.min_run_steps:
            p = self.params
            if not self._run_confirmed and (p.initiation_ratio > 0 or p.initiation_height > 0):
                # gait initiation: a weight shift before the first landing shows as a peak
                # much closer to the next one than the walk's step interval
                # (or as a peak much lower than the next ones: Oxford and IPOL walks start
                # from standing, and the shift shows at 15-30 % of the step peaks)
                d = np.diff(self._pending)
                h = self._heights
                if d.size >= 3 and (
                    d[0] < self.params.initiation_ratio * float(np.median(d[1:]))
                    or (
                        len(h) >= 4
                        and h[0] < self.params.initiation_height * float(np.median(h[1:]))
                    )
                ):
                    self._pending.pop(0)
            out.extend(self._pending)
            self._pending.clear()
            self._run_confirmed = True

    def _close_run(self, out: list[float], end: bool) -> None:
        if (
            self.params.closing_step
            and not end
            and self._run_confirmed
            and self._last_interval_s <= self._max_gap
            and (
                len(self._heights) < 2
                or self._heights[-1]
                >= self.params.closing_min_height * float(np.median(self._heights[:-1]))
            )
        ):
            # gait termination: the last step, bringing the feet together, barely shows; it is
            # added one step interval after the last step unless that step was a weak one
            out.append(self._last_peak_s + self._last_interval_s)
        self._heights = []
        self._pending.clear()
        self._run_confirmed = False
        self._last_interval_s = np.inf


# --------------------------------------------------------------------------- batch API


def _gate_runs(times_s: FloatArray, min_run: int, max_gap_s: float) -> FloatArray:
    """Keep the times that belong to runs of >= ``min_run`` with gaps <= ``max_gap_s``."""
    if times_s.size == 0:
        return times_s
    breaks = np.flatnonzero(np.diff(times_s) > max_gap_s) + 1
    starts = np.r_[0, breaks]
    lengths = np.diff(np.r_[starts, times_s.size])
    keep = np.repeat(lengths >= min_run, lengths)
    out: FloatArray = times_s[keep]
    return out


def count_steps(
    accel_g: npt.ArrayLike,
    fs_hz: float,
    *,
    params: StepParams | None = None,
    nan_policy: Literal["raise", "gap"] = "raise",
) -> StepResult:
    """Count steps in a triaxial acceleration recording.

    Parameters
    ----------
    accel_g:
        (N, 3) acceleration in g, uniformly sampled, any orientation and placement.
    fs_hz:
        Sample rate, Hz (10-10000). Resample irregular data first with :func:`resample_uniform`.
    params:
        :class:`StepParams`; the defaults were chosen on the Oxford optimisation set and hold for
        every placement.
    nan_policy:
        ``"raise"`` (default): NaN or inf samples are an error. ``"gap"``: rows with any
        non-finite value are gaps; the signal is split at them, each finite segment is counted
        separately (no step is invented or bridged across a gap) and step times stay relative to
        the first sample of the whole input.

    Returns
    -------
    StepResult
        ``count`` and ``step_times_s`` (s from the first sample).

    Raises
    ------
    ValueError (:class:`devices.errors.InputError`)
        Wrong shape, zero length, NaN/inf samples (with ``nan_policy="raise"``) or a sample rate
        outside 10-10000 Hz.

    References
    ----------
    Salvi et al., EMBC 2018 (windowed peak detection with an adaptive threshold) and Brajdic &
    Harle, UbiComp 2013 (walk detection before counting); see the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 50.0
    >>> t = np.arange(int(20 * fs)) / fs
    >>> z = 1 + 0.3 * np.sin(2 * np.pi * 2.0 * t)  # 2 steps/s for 20 s
    >>> res = count_steps(np.c_[0 * t, 0 * t, z], fs)
    >>> 38 <= res.count <= 40
    True
    """
    fs = _check_fs(fs_hz)
    if nan_policy not in ("raise", "gap"):
        raise InputError(
            "count_steps", "nan_policy", f"must be 'raise' or 'gap', not {nan_policy!r}"
        )
    # shape and dtype only: finiteness is checked chunk by chunk below (a whole-array mask
    # would cost 3 bytes per sample)
    a = _check_accel(accel_g, allow_nan=True)
    n = a.shape[0]
    bad_row = _first_nonfinite_row(a)
    if bad_row is not None and nan_policy == "raise":
        raise InputError(
            "accel_g",
            f"row {bad_row}",
            "contains NaN or inf samples; use nan_policy='gap' to split at gaps",
        )
    p = params if params is not None else StepParams()
    if bad_row is None:
        sc = StepCounter(fs, p)
        parts = [sc.update(a[i : i + COUNT_CHUNK]) for i in range(0, n, COUNT_CHUNK)]
        st = np.concatenate([*parts, sc.finish()])
    else:
        st = _count_finite_segments(a, fs, p)
    return StepResult(int(st.size), st, fs, n / fs)


COUNT_CHUNK = 1 << 20
"""Samples per :meth:`StepCounter.update` inside :func:`count_steps` (bounds its memory: the
chunked engine gives identical step times for any chunking)."""


def _first_nonfinite_row(a: npt.NDArray[np.floating]) -> int | None:
    """Index of the first row with a NaN or inf value, or None; scanned in chunks."""
    for i in range(0, a.shape[0], COUNT_CHUNK):
        bad = ~np.isfinite(a[i : i + COUNT_CHUNK]).all(axis=1)
        if bad.any():
            return i + int(np.argmax(bad))
    return None


def _count_finite_segments(a: npt.NDArray[np.floating], fs: float, p: StepParams) -> FloatArray:
    """``nan_policy="gap"`` over an array, in chunks of :data:`COUNT_CHUNK` rows."""
    gc = GapStepCounter(fs, p)
    for i in range(0, a.shape[0], COUNT_CHUNK):
        gc.update(a[i : i + COUNT_CHUNK])
    return gc.finish()


class GapStepCounter:
    """Streaming ``count_steps(..., nan_policy="gap")``: chunks may contain NaN rows (gaps).

    The peaks of each finite run come from its own ungated :class:`StepCounter`; one walk
    gating over all of them follows at :meth:`finish` (a run may continue across a gap shorter
    than ``max_step_gap_s``; no step is added in the gap). A finite run that spans chunks is fed
    to one counter, so the result does not depend on the chunking, and equals
    :func:`count_steps` on the whole array when it has at least one non-finite row. Memory: one
    counter's state and the step times.

    Parameters
    ----------
    fs_hz:
        Sample rate, Hz.
    params:
        :class:`StepParams`; defaults when None.
    """

    def __init__(self, fs_hz: float, params: StepParams | None = None) -> None:
        self.fs_hz = _check_fs(fs_hz)
        self.params = params if params is not None else StepParams()
        self._ungated = replace(self.params, min_run_steps=1)
        self._times: list[FloatArray] = []
        self._sc: StepCounter | None = None
        self._sc_start = 0
        self._n = 0

    def update(self, accel_g_chunk: npt.ArrayLike) -> None:
        """Process one (n, 3) chunk in g; NaN/inf rows are gaps."""
        c = _check_accel(accel_g_chunk, allow_nan=True)
        if c.shape[0] == 0:
            return
        fs = self.fs_hz
        finite = np.isfinite(c).all(axis=1)
        edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(np.int8), 0]))
        for s, e in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            if self._sc is None or s > 0:
                self._close()
                self._sc, self._sc_start = StepCounter(fs, self._ungated), self._n + s
            self._times.append(self._sc.update(c[s:e]) + self._sc_start / fs)
        if not finite[-1]:
            self._close()
        self._n += c.shape[0]

    def _close(self) -> None:
        if self._sc is not None:
            self._times.append(self._sc.finish() + self._sc_start / self.fs_hz)
            self._sc = None

    def finish(self) -> FloatArray:
        """Gate the runs; return all step times, s from the first sample."""
        self._close()
        all_times = np.concatenate(self._times) if self._times else np.empty(0)
        return _gate_runs(all_times, self.params.min_run_steps, self.params.max_step_gap_s)


def resample_uniform(
    t_ns: npt.ArrayLike,
    values: npt.ArrayLike,
    fs_hz: float,
    *,
    max_gap_s: float = 0.5,
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Resample irregularly timed samples onto a uniform grid by linear interpolation.

    Parameters
    ----------
    t_ns:
        (N,) int sample times in ns (any epoch), strictly increasing.
    values:
        (N,) or (N, k) samples in any unit (kept).
    fs_hz:
        Output sample rate, Hz (10-10000).
    max_gap_s:
        Grid points inside a gap longer than this between two input samples, s, are set to NaN
        (a gap, never zeros), so that ``count_steps(..., nan_policy="gap")`` splits there.

    Returns
    -------
    t_out_ns:
        int64 (M,) grid times, ns: ``t_ns[0] + round(k * 1e9 / fs_hz)``, up to ``t_ns[-1]``.
    values_out:
        float64 (M, k) (or (M,) for 1-D input) interpolated values, NaN inside gaps.

    Raises
    ------
    ValueError (:class:`devices.errors.InputError`)
        Zero length, mismatched shapes, NaN/inf values or timestamps that are not strictly
        increasing, absurd sample rate.
    """
    fs = _check_fs(fs_hz)
    t = np.asarray(t_ns)
    v = np.asarray(values, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise InputError("t_ns", "shape", f"zero length or wrong shape {t.shape}, need (N,)")
    if not np.issubdtype(t.dtype, np.integer):
        raise InputError("t_ns", "dtype", f"must be integer ns, got {t.dtype}")
    if v.shape[:1] != t.shape or v.ndim not in (1, 2):
        raise InputError(
            "values", "shape", f"wrong shape {v.shape}, need ({t.size},) or ({t.size}, k)"
        )
    if not np.all(np.isfinite(v)):
        raise InputError("values", "values", "contains NaN or inf samples")
    t = t.astype(np.int64)
    dt = np.diff(t)
    if np.any(dt <= 0):
        i = int(np.argmax(dt <= 0)) + 1
        raise InputError(
            "t_ns", f"t_ns[{i}]", "non-monotonic timestamps: must be strictly increasing"
        )
    if not max_gap_s > 0:
        raise InputError("resample_uniform", "max_gap_s", "must be > 0")
    rel = (t - t[0]).astype(np.float64) / 1e9
    m = int(np.floor(rel[-1] * fs + 1e-9)) + 1
    grid_s = np.arange(m) / fs
    v2 = v.reshape(t.size, -1)
    if m == t.size and np.array_equal(rel, grid_s):
        # Every sample is on the grid already (a device that keeps its nominal rate):
        # interpolating at the samples' own times gives their values (np.interp returns
        # fp[j] at x == xp[j]) and no grid point lies inside a gap, so the result is a copy.
        out = v2.copy()
        t_out = t[0] + np.round(grid_s * 1e9).astype(np.int64)
        return t_out, (out if v.ndim == 2 else out[:, 0])
    out = np.empty((m, v2.shape[1]))
    for j in range(v2.shape[1]):
        out[:, j] = np.interp(grid_s, rel, v2[:, j])
    if t.size > 1:
        k = np.clip(np.searchsorted(rel, grid_s, side="right") - 1, 0, t.size - 2)
        gap = (dt[k] > max_gap_s * 1e9) & (grid_s > rel[k]) & (grid_s < rel[k + 1])
        out[gap] = np.nan
    t_out = t[0] + np.round(grid_s * 1e9).astype(np.int64)
    return t_out, (out if v.ndim == 2 else out[:, 0])
