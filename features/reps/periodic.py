"""Exercise-agnostic repetition counting by self-similarity: movement bouts, period, peaks.

Two stages, so that the live counter gives the batch answer exactly:

1. :class:`BoutDetector` (causal, streaming): the movement intensity is the norm of the
   high-passed accelerometer (g), smoothed; a *bout* starts where it exceeds
   :attr:`PeriodicParams.active_g` and ends once it has stayed below for
   :attr:`PeriodicParams.bout_gap_s`. All filters carry their state across chunks, so the
   bouts do not depend on how the stream is cut.
2. :func:`count_bout` (one bout, non-causal, following RecoFit [1]_ and the autocorrelation
   period methods it builds on [2]_, [3]_): zero-phase band-pass of the bout's accelerometer,
   the period from the highest peak of the normalised autocorrelation of each sliding
   window's first principal component within the repetition duration range, a periodicity
   gate on that peak, then one repetition per peak of the projection on the axis whose
   movement repeats most at that period [4]_, with the period as minimum distance and a
   prominence relative to the typical repetition. Peaks far from any other peak (more than
   :attr:`PeriodicParams.isolated_periods` periods) are isolated movements, not repetitions,
   unless they end a run and are as prominent as its repetitions
   (:attr:`PeriodicParams.extend_intervals`, :attr:`PeriodicParams.extend_frac`).

References
----------
.. [1] D. Morris, T. S. Saponas, A. Guillory, I. Kelner, "RecoFit: using a wearable sensor to
   find, recognize, and count repetitive exercises", CHI 2014.
   https://doi.org/10.1145/2556288.2557116
.. [2] A. Soro, G. Brunner, S. Tanner, R. Wattenhofer, "Recognition and repetition counting
   for complex physical exercises with deep learning", Sensors 19(3):714, 2019.
   https://doi.org/10.3390/s19030714
.. [3] L. R. Rabiner, "On the use of autocorrelation analysis for pitch detection", IEEE
   Trans. ASSP 25(1):24-33, 1977. https://doi.org/10.1109/TASSP.1977.1162905
.. [4] L. K. Saul, J. B. Allen, "Periodic component analysis: an eigenvalue method for
   representing periodic structure in speech", Advances in Neural Information Processing
   Systems 13 (NIPS 2000), 807-813.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from features.gram import gram3

Array = NDArray[np.float64]

__all__ = ["Bout", "BoutCount", "BoutDetector", "PeriodicParams", "count_bout"]


@dataclass(frozen=True)
class PeriodicParams:
    """Parameters of the periodicity counter, physical units. One set for all data.

    Durations in seconds, frequencies in Hz, accelerations in g; the rest are dimensionless.
    How they were chosen, and how they hold on the data they were not chosen on, is in
    docs/reps.md and ``benchmarks/reps_accuracy.py`` (leave one data set out).
    """

    #: Repetition duration range, seconds (a profile narrows it).
    min_rep_s: float = 0.8
    max_rep_s: float = 8.0
    #: Smoothing of the movement intensity, seconds (first-order low-pass time constant).
    intensity_tau_s: float = 0.5
    #: Movement intensity (RMS of the high-passed acceleration) that makes a bout, g.
    active_g: float = 0.02
    #: A bout ends after this long below ``active_g``, seconds.
    bout_gap_s: float = 4.0
    #: Samples kept before and after a bout for counting, seconds.
    bout_pad_s: float = 1.0
    #: Upper edge of the counting band-pass, Hz (the lower edge is 0.5 / ``max_rep_s``).
    band_hi_hz: float = 2.0
    #: Counting runs at about this rate (integer decimation after the band-pass), Hz.
    work_fs_hz: float = 25.0
    #: Periodicity windows, seconds, and their hop; long windows are
    #: ``long_window_periods`` x ``max_rep_s``, used when the short ones find a period above
    #: ``slow_frac`` of their longest lag (half a window) or none.
    window_s: float = 10.0
    hop_s: float = 0.5
    long_window_periods: float = 2.5
    slow_frac: float = 0.8
    #: Smallest normalised autocorrelation at the period for a window to be repetitive.
    min_autocorr: float = 0.2
    #: Minimum distance between repetitions, share of the period.
    min_distance_periods: float = 0.75
    #: A peak counts when its prominence is at least this share of the largest in the bout.
    prominence_frac: float = 0.25
    #: ... and at least this, g (band-passed projection): smaller is sensor drift or noise.
    min_prominence_g: float = 0.05
    #: Peaks farther apart than this many periods break a run.
    isolated_periods: float = 1.5
    #: A run takes at each end the nearest peak within this many of its median intervals
    #: (the last repetition after a pause, a first one before the rhythm settles) ...
    extend_intervals: float = 2.0
    #: ... when that peak's prominence is at least this share of the run's median prominence.
    extend_frac: float = 0.7
    #: Fewest peaks in a run (a set of 3 counts; 1 or 2 isolated movements do not).
    min_run: int = 3
    max_irregularity: float = 0.2


@dataclass(frozen=True)
class Bout:
    """A movement bout, absolute sample indices ``[start, end)`` including the padding;
    ``closed_at`` is the sample whose arrival closed it (the end of the stream for the last)."""

    start: int
    end: int
    closed_at: int


class BoutDetector:
    """Causal bout detection on a stream of accelerometer samples (g), chunk-invariant."""

    def __init__(self, fs_hz: float, params: PeriodicParams) -> None:
        self.fs_hz = fs_hz
        self.p = params
        nyq = 0.5 * fs_hz
        # High-pass at the band-pass's lower edge: removes gravity, keeps slow repetitions.
        hp_hz = 0.5 / params.max_rep_s
        self._sos = signal.butter(2, hp_hz / nyq, btype="highpass", output="sos")
        self._zi_unit = signal.sosfilt_zi(self._sos)
        self._zi = np.zeros((self._sos.shape[0], 2, 3))
        alpha = 1.0 - math.exp(-1.0 / (params.intensity_tau_s * fs_hz))
        self._lp_b = np.array([alpha])
        self._lp_a = np.array([1.0, alpha - 1.0])
        self._zi_lp = np.zeros(1)
        self._gap_n = max(1, round(params.bout_gap_s * fs_hz))
        self._pad_n = max(1, round(params.bout_pad_s * fs_hz))
        self.n = 0
        self._open = False
        self._first_active = 0
        self._last_active = 0
        #: Largest intensity seen, g (diagnostics for a zero count).
        self.max_intensity_g = 0.0

    def process(self, accel_g: Array) -> list[Bout]:
        """Feed samples (validated, g); return the bouts closed by them."""
        m = accel_g.shape[0]
        if m == 0:
            return []
        if self.n == 0:
            self._zi = self._zi_unit[:, :, None] * accel_g[0][None, None, :]
        hp, self._zi = signal.sosfilt(self._sos, accel_g, axis=0, zi=self._zi)
        power = np.einsum("ij,ij->i", hp, hp)
        smooth, self._zi_lp = signal.lfilter(self._lp_b, self._lp_a, power, zi=self._zi_lp)
        peak = math.sqrt(max(float(smooth.max()), 0.0))
        self.max_intensity_g = max(self.max_intensity_g, peak)
        active = np.flatnonzero(smooth > self.p.active_g**2) + self.n
        out = self._scan(active, self.n + m)
        self.n += m
        return out

    def _scan(self, active: NDArray[np.intp], stop: int) -> list[Bout]:
        """Update the bout state with the active sample indices (absolute) before ``stop``."""
        out: list[Bout] = []
        k = 0
        while k < active.size:
            if not self._open:
                self._open = True
                self._first_active = self._last_active = int(active[k])
                k += 1
                continue
            seq = np.concatenate([[self._last_active], active[k:]])
            gaps = np.flatnonzero(np.diff(seq) > self._gap_n)
            if gaps.size == 0:
                self._last_active = int(active[-1])
                break
            j = k + int(gaps[0])  # active[j] starts after a gap: the bout closed before it
            if j > k:
                self._last_active = int(active[j - 1])
            out.append(self._close())
            k = j
        if self._open and stop > self._last_active + self._gap_n:
            out.append(self._close())
        return out

    def _close(self) -> Bout:
        self._open = False
        closed = self._last_active + self._gap_n
        return Bout(
            max(0, self._first_active - self._pad_n), self._last_active + self._pad_n + 1, closed
        )

    def keep_from(self) -> int:
        """First absolute sample a future bout can include (history before it can go)."""
        if self._open:
            return max(0, self._first_active - self._pad_n)
        return max(0, self.n - self._pad_n)

    def finish(self) -> list[Bout]:
        """End of stream: close an open bout at the last sample."""
        if not self._open:
            return []
        b = self._close()
        return [Bout(b.start, min(b.end, self.n), self.n)]


@dataclass(frozen=True)
class BoutCount:
    """Repetitions of one bout: peak, start and end sample indices relative to the bout."""

    peaks: NDArray[np.intp]
    start: NDArray[np.intp]
    end: NDArray[np.intp]
    period_n: float
    autocorr: float


def _principal(x: Array) -> Array:
    """Projection of the (n, k) channels on their first principal component."""
    xc = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    return np.asarray(xc @ vt[0], dtype=np.float64)


def _periodic_axis(x: Array, period_n: float) -> Array:
    """Projection of the (n, k) channels on the axis whose movement repeats most at the period.

    The axis is the leading eigenvector of the symmetrised lag covariance
    ``sum_t x(t) x(t + P)^T`` at the period ``P`` (samples), in the spirit of periodic
    component analysis [4]_: a one-off movement inside the region (picking a weight up,
    turning to sit) carries variance but little covariance one period later, so it no
    longer decides the axis as it does the first principal component. Units of ``x``.
    """
    xc = x - x.mean(axis=0)
    lag = max(1, round(period_n))
    if xc.shape[0] <= lag + 1:
        return _principal(x)
    c = xc[:-lag].T @ xc[lag:]
    _, vecs = np.linalg.eigh(0.5 * (c + c.T))
    return np.asarray(xc @ vecs[:, -1], dtype=np.float64)


@lru_cache(maxsize=32)
def _bandpass_sos(fs_hz: float, lo_hz: float, hi_hz: float) -> Array:
    nyq = 0.5 * fs_hz
    sos = signal.butter(
        2, [lo_hz / nyq, min(hi_hz, 0.8 * nyq) / nyq], btype="bandpass", output="sos"
    )
    return np.asarray(sos, dtype=np.float64)


def _bandpass(x: Array, fs_hz: float, p: PeriodicParams) -> Array:
    """Zero-phase band-pass (2nd-order Butterworth forward and back), 0.5 / ``max_rep_s`` to
    ``band_hi_hz`` Hz."""
    lo = 0.5 / p.max_rep_s
    padlen = min(x.shape[0] - 1, 3 * round(fs_hz / lo))
    sos = _bandpass_sos(fs_hz, lo, p.band_hi_hz)
    return np.asarray(signal.sosfiltfilt(sos, x, axis=0, padlen=padlen), dtype=np.float64)


def _decimate(x: Array, step: int) -> Array:
    """Block means of ``step`` samples (a boxcar anti-alias filter, nulls at multiples of the
    working rate); the last partial block is averaged too."""
    if step == 1:
        return x
    n = x.shape[0]
    full = n // step * step
    out = x[:full].reshape(-1, step, x.shape[1]).mean(axis=1)
    if full < n:
        out = np.vstack([out, x[full:].mean(axis=0, keepdims=True)])
    return np.asarray(out, dtype=np.float64)


def _pick(q: Array, period_n: float, p: PeriodicParams) -> NDArray[np.intp]:
    """Peaks of ``q`` one period apart at least, prominent and not isolated."""
    dist = max(1, round(p.min_distance_periods * period_n))
    pk, props = signal.find_peaks(q, distance=dist, prominence=0.0)
    if pk.size == 0:
        return pk
    prom = props["prominences"]
    keep = (prom >= p.prominence_frac * float(np.max(prom))) & (prom >= p.min_prominence_g)
    return _in_runs(pk[keep], prom[keep], period_n, p)


def _in_runs(
    pk: NDArray[np.intp], prom: Array, period_n: float, p: PeriodicParams
) -> NDArray[np.intp]:
    """Peaks in repetitive runs (``pk`` sorted, ``prom`` their prominences): at least
    ``min_run`` peaks, each within ``isolated_periods`` periods of the last, and intervals
    whose spread (median absolute deviation over the median) is at most ``max_irregularity``;
    each run extended by :func:`_extend`."""
    if pk.size < p.min_run:
        return pk[:0]
    brk = np.flatnonzero(np.diff(pk) > p.isolated_periods * period_n) + 1
    kept = [r for r in np.split(pk, brk) if r.size >= p.min_run and _regular(r, p)]
    if not kept:
        return pk[:0]
    return np.unique(np.concatenate([_extend(r, pk, prom, p) for r in kept]))


def _extend(
    run: NDArray[np.intp], pk: NDArray[np.intp], prom: Array, p: PeriodicParams
) -> NDArray[np.intp]:
    """``run`` with at most one more peak at each end: the nearest of the peaks ``pk`` (sorted;
    prominences ``prom``, same order) within ``extend_intervals`` median intervals of the run
    whose prominence is at least ``extend_frac`` of the run's median (sample indices).

    A set's last repetition often follows a longer pause (fatigue) and its first one may come
    before the rhythm settles; both are about as large as the others, while the band-pass's
    settling after a set, or a small movement, is not.
    """
    reach = p.extend_intervals * float(np.median(np.diff(run)))
    ref = float(np.median(prom[np.searchsorted(pk, run)]))
    strong = pk[prom >= p.extend_frac * ref]
    before = strong[(strong < run[0]) & (strong >= run[0] - reach)]
    after = strong[(strong > run[-1]) & (strong <= run[-1] + reach)]
    return np.concatenate([before[-1:], run, after[:1]])


def _regular(run: NDArray[np.intp], p: PeriodicParams) -> bool:
    d = np.diff(run).astype(np.float64)
    med = float(np.median(d))
    return float(np.median(np.abs(d - med))) <= p.max_irregularity * med


PERIOD_BLOCK = 128
"""Windows whose periods are computed at once (bounds the temporaries to about 1.5 MB at
250-sample windows)."""


def _starts(n: int, w: int, hop: int) -> NDArray[np.intp]:
    """Window starts 0, hop, ..., and a last one ending at the last sample."""
    starts = np.arange(0, max(1, n - w + 1), hop)
    if starts[-1] != max(0, n - w):
        starts = np.append(starts, max(0, n - w))
    return starts.astype(np.intp)


def _window_periods(
    x: Array, fs_hz: float, p: PeriodicParams, window_s: float
) -> tuple[NDArray[np.intp], int, Array, Array]:
    """Per window of ``window_s`` seconds: start (samples), length (samples), period
    (samples; NaN when none in range) and the normalised autocorrelation at it.

    In each window the channels are projected on their first principal component (RecoFit);
    the biased autocorrelation of the projection (by FFT) is normalised by its value at lag
    0; the period is the lag of its highest local maximum within ``min_rep_s`` ..
    min(``max_rep_s``, half the window).
    """
    w = min(x.shape[0], round(window_s * fs_hz))
    starts = _starts(x.shape[0], w, max(1, round(p.hop_s * fs_hz)))
    lo = max(2, math.floor(p.min_rep_s * fs_hz))
    hi = min(w // 2, math.ceil(p.max_rep_s * fs_hz))
    if hi <= lo:
        return starts, w, np.full(starts.size, np.nan), np.zeros(starts.size)
    # (n - w + 1, w, 3) windows as a view of x; gathered PERIOD_BLOCK windows at a time. Each
    # window's figures depend on that window alone, so blocks give the same bits as one pass,
    # with temporaries that stay in the processor's cache.
    view = np.lib.stride_tricks.sliding_window_view(x, w, axis=0).transpose(0, 2, 1)
    parts = [
        _periods_of(view[starts[i : i + PERIOD_BLOCK]], w, lo, hi)
        for i in range(0, starts.size, PERIOD_BLOCK)
    ]
    period = np.concatenate([a for a, _ in parts])
    ac = np.concatenate([b for _, b in parts])
    return starts, w, period, ac


def _periods_of(fr: Array, w: int, lo: int, hi: int) -> tuple[Array, Array]:
    """Period (samples; NaN when none in lags ``lo`` .. ``hi``) and the normalised
    autocorrelation at it of each window of ``fr`` (windows, ``w`` samples, channels)."""
    fr = fr - fr.mean(axis=1, keepdims=True)
    _, vecs = np.linalg.eigh(gram3(fr, channels_last=True))
    q = np.einsum("wti,wi->wt", fr, vecs[:, :, -1])
    f = np.fft.rfft(q, 2 * w, axis=1)
    r = np.fft.irfft(f * np.conj(f), 2 * w, axis=1)[:, :w]
    r0 = r[:, :1]
    r = r / np.where(r0 > 0, r0, np.inf)
    seg = r[:, lo - 1 : hi + 2]
    is_peak = (seg[:, 1:-1] > seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
    val = np.where(is_peak, seg[:, 1:-1], -np.inf)
    k = np.argmax(val, axis=1)
    ac = val[np.arange(val.shape[0]), k]
    ok = np.isfinite(ac)
    period = np.where(ok, (k + lo).astype(np.float64), np.nan)
    return period, np.where(ok, ac, 0.0)


def _repetitive(
    x: Array, fs_hz: float, p: PeriodicParams
) -> tuple[NDArray[np.bool_], float, float]:
    """Samples inside repetitive windows, the period (samples) and the median autocorrelation.

    Short windows first (fast repetitions, localised); when they find no periodicity or a
    period near their longest lag, long windows with room for the slowest repetition decide.
    """
    starts, w, period, ac = _window_periods(x, fs_hz, p, p.window_s)
    good = ac >= p.min_autocorr
    long_s = p.long_window_periods * p.max_rep_s
    slow = bool(good.any()) and float(np.median(period[good])) > p.slow_frac * 0.5 * w
    if long_s > p.window_s and (slow or not good.any()) and x.shape[0] > w:
        starts, w, period, ac = _window_periods(x, fs_hz, p, long_s)
        good = ac >= p.min_autocorr
    mask = np.zeros(x.shape[0], dtype=bool)
    if not good.any():
        return mask, float("nan"), float(ac.max(initial=0.0))
    for s0 in starts[good]:
        mask[s0 : s0 + w] = True
    return mask, float(np.median(period[good])), float(np.median(ac[good]))


def count_bout(accel_g: Array, fs_hz: float, p: PeriodicParams) -> BoutCount:
    """Count the repetitions of one bout (accelerometer samples of the bout, g; ``fs_hz`` Hz).

    The gyroscope is not used to count: on the development data, counting it (as extra
    channels, or as a fallback when the accelerometer shows no repetitions) lowered the
    accuracy and counted repetitions in rest recordings (docs/reps.md).
    """
    empty = np.zeros(0, dtype=np.intp)
    n = accel_g.shape[0]
    if n < max(8, round(2 * p.min_rep_s * fs_hz)):
        return BoutCount(empty, empty, empty, float("nan"), 0.0)
    step = max(1, math.floor(fs_hz / p.work_fs_hz))
    x = _bandpass(_decimate(accel_g, step), fs_hz / step, p)
    fs = fs_hz / step
    mask, per, ac = _repetitive(x, fs, p)
    if not math.isfinite(per):
        return BoutCount(empty, empty, empty, float("nan"), ac)
    region = np.flatnonzero(mask)
    a, b = int(region[0]), int(region[-1]) + 1
    q = _periodic_axis(x[a:b], per)
    # Each repetition has one excursion each way along the axis; the side with more
    # prominent, regular peaks is counted (the sign of a principal axis is arbitrary).
    pk_pos, pk_neg = _pick(q, per, p), _pick(-q, per, p)
    pk = pk_neg if pk_neg.size > pk_pos.size else pk_pos
    pk = pk[mask[pk + a]] + a
    if pk.size == 0:
        return BoutCount(empty, empty, empty, per * step, ac)
    half = per / 2
    mids = (pk[1:] + pk[:-1]) / 2
    start = np.maximum(np.concatenate([[pk[0] - half], mids]), pk - half)
    end = np.minimum(np.concatenate([mids, [pk[-1] + half]]), pk + half)
    return BoutCount(
        _to_input(pk, step, n), _to_input(start, step, n), _to_input(end, step, n), per * step, ac
    )


def _to_input(idx: NDArray[Any], step: int, n: int) -> NDArray[np.intp]:
    """Indices at the working rate back to the input rate: the middle of each block of
    ``step`` input samples."""
    return np.clip(np.round(idx * step + (step - 1) / 2), 0, n - 1).astype(np.intp)
