"""Find periods of repetitive exercise in a continuous IMU recording, without an app.

A wearable that is worn all day sees walking, sitting, standing, the sensor being put on and,
now and then, a home-exercise session. :func:`find_exercise` returns the exercise periods
("bouts") with their sets, rests and repetitions, each with start/end times (s) and a
confidence, and keeps walking out.

Method
------
It follows the "find" step of RecoFit [1]_: periodicity features on sliding windows, then a
segmentation of the windows into exercise and non-exercise periods. Departures:

1. Features (RecoFit: 5 s windows, 200 ms hop, SVM on autocorrelation and spectral features).
   Here: :data:`WINDOW_S` windows every :data:`HOP_S`, the gravity-removed accelerometer
   projected on the window's first principal component, and its normalised autocorrelation:
   the highest peak at a repetition lag (:data:`REP_LAG_S`, 0.8-8 s: home exercise repeats at
   about 0.2-1 Hz) and the highest at a step lag (:data:`STEP_LAG_S`, 0.4-0.75 s: walking
   steps are at about 1.4-2.2 Hz). No trained classifier: the thresholds are physical.
2. Segmentation (RecoFit: a minimum run of exercise windows). A window is periodic when its
   repetition-lag peak reaches :data:`REGION_MIN_R`, it moves (:data:`REGION_MIN_STD_G`) and
   the repetition lag beats the step lag. The middle halves of periodic windows, and the
   repetitions the exercise-agnostic counter :func:`features.reps.count_reps` finds in the
   whole stream, padded by :data:`REGION_PAD_S` and merged, are the candidate periods. The
   whole-stream counter runs only around windows that move at least :data:`MOVE_MIN_STD_G`
   (an activity gate: still hours cannot hold a repetition it counts, and skipping them makes a
   day of continuous wear several times faster to search).
3. Counting (RecoFit counts inside found periods too): ``count_reps`` runs again on each
   candidate period alone (its running thresholds then do not carry the amplitude of walking
   or handling next to a set) and its repetitions are grouped into sets by rests longer than
   ``min_rest_s``, as :func:`features.sessions.segment_session` does.
4. Walking is refused three ways: the step counter's own verdict
   (:func:`features.steps.count_steps` and :func:`features.activity.walking_bouts` at a
   walking cadence, :data:`WALK_CADENCE_SPM`: a set that overlaps such bouts for more than
   :data:`MAX_WALK_OVERLAP` of its time, when the signal has a gait structure too: step-lag
   periodicity :data:`MIN_GAIT_STEP_R` or stride-long repetitions :data:`MAX_STRIDE_S`), the cadence of the signal (a set whose windows peak
   at a step lag more than at a repetition lag), and the repetition rate (a median repetition
   shorter than :data:`MIN_REP_S`, faster than home exercise, is refused).
5. The confidence of a set (0-1) is the autocorrelation of its principal-axis signal at its
   median repetition period times the regularity of its repetition durations
   (1 - coefficient of variation); sets below ``min_confidence`` (default 0: the counter's
   runs of three consistent cycles already refuse fidgeting) are dropped. Sets closer than
   ``max_rest_s`` whose movement looks alike (repetition durations within x2, mean gravity
   directions within 45 degrees: the same posture and placement) form one bout.
6. Optional: :func:`resemblance` scores the library exercises (``features/exercises.json``)
   against a bout's repetition duration and range of motion. It never changes the counts.

References
----------
.. [1] D. Morris, T. S. Saponas, A. Guillory, I. Kelner, "RecoFit: using a wearable sensor to
   find, recognize, and count repetitive exercises", Proc. CHI 2014, 3225-3234.
   https://doi.org/10.1145/2556288.2557116
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from devices.errors import InputError
from features.activity import walking_bouts
from features.exercises import ExerciseProfile, load_library
from features.gram import gram3
from features.reps import Repetition
from features.reps.counter import checked_gyro, count_reps_validated, set_indices
from features.reps.periodic import PeriodicParams
from features.reps.rom import rom_deg
from features.steps import count_steps
from features.validation import check_accel_g, check_fs

__all__ = [
    "ExerciseBout",
    "FindResult",
    "FoundSet",
    "WindowFeatures",
    "find_exercise",
    "periodicity_features",
    "resemblance",
]

Array = NDArray[np.float64]

WINDOW_S = 12.0
"""Length of a feature window, s (long enough for two 6 s repetitions)."""
HOP_S = 1.0
"""Step between feature windows, s."""
WINDOW_BLOCK = 512
"""Windows computed at once (bounds the memory of a long recording; at 512 the temporaries,
about 1.5 MB, stay in the processor's cache: faster than larger blocks, the same bits)."""
FEATURE_FS_HZ = 10.0
"""Rate (about) at which the features are computed, Hz (block means of the input)."""
REP_LAG_S = (0.8, 8.0)
"""Autocorrelation lags of exercise repetitions, s (about 0.12-1.25 Hz)."""
STEP_LAG_S = (0.4, 0.75)
"""Autocorrelation lags of walking steps, s (about 1.35-2.5 Hz)."""
REGION_MIN_R = 0.5
"""A window whose repetition-lag autocorrelation reaches this (0-1) is periodic."""
REGION_MIN_STD_G = 0.02
"""... and moves at least this much (standard deviation of its principal axis, g)."""
STREAM_CHUNK_S = 1800.0
"""The whole-stream counter runs on chunks of this length (s) ..."""
STREAM_OVERLAP_S = 60.0
"""... overlapping by this (s), so that a set across a chunk boundary is still proposed."""
MOVE_MIN_STD_G = 0.25 * PeriodicParams().min_prominence_g
"""Activity gate of the whole-stream counter, g: it runs only around windows that move at least
this much (``std_g``). ``count_reps`` counts a peak only with a prominence of at least
``min_prominence_g`` (0.05 g) in its band; a 12 s window inside a run of such repetitions has a
principal-axis standard deviation of about 0.018 g (a sine of that peak-to-peak), 0.025 g (a
square wave), 0.015 g (10 % pulses): a quarter of 0.05 g, 0.0125 g, is under all of them."""
MOVE_PAD_S = 60.0
"""Moving windows are widened by this on both sides (s) before the whole-stream counter runs
on them: room for its band-pass to settle and for its movement bouts to start and end."""
REGION_PAD_S = 3.0
"""Candidate periods are widened by this on both sides before counting, s."""
MIN_REP_S = 1.0
"""A set whose median repetition is shorter than this (s) repeats faster than home exercise."""
WALK_CADENCE_SPM = (70.0, 150.0)
"""Cadence of the step counter's walking bouts that are taken for walking, steps/min (slow to
brisk walking; a bout at 30-50 "steps"/min is the counter seeing squats or lifts)."""
MAX_TURN_COS = float(np.cos(np.radians(45.0)))
"""Sets whose mean gravity directions differ by more than 45 degrees are different exercises
(another posture or placement), hence separate bouts."""
MAX_WALK_OVERLAP = 0.3
"""Largest share of a set's time inside walking bouts of the step counter."""
MIN_GAIT_STEP_R = 0.3
"""The step counter's verdict is believed when the set's windows repeat at a step lag at least
this much (median step-lag autocorrelation, 0-1) ..."""
MAX_STRIDE_S = 1.5
"""... or when its repetitions are stride-long, shorter than this (s): a squat at 2.3 s with no
step-lag periodicity is not walking even if the step counter counts it."""
MIN_STEP_SHARE = 0.5
"""A set is walking when more than this share of its windows peak at a step lag."""


@dataclass(frozen=True)
class WindowFeatures:
    """Sliding-window periodicity features (see the module docstring).

    Attributes
    ----------
    t_s : ndarray
        Centre of each window, s from the first sample.
    rep_r, rep_lag_s : ndarray
        Highest normalised autocorrelation at a repetition lag (0-1), and that lag (s).
    step_r : ndarray
        Highest normalised autocorrelation at a step lag (0-1).
    std_g : ndarray
        Standard deviation of the projected, gravity-removed signal, g.
    """

    t_s: Array
    rep_r: Array
    rep_lag_s: Array
    step_r: Array
    std_g: Array

    def inside(self, start_s: float, end_s: float) -> NDArray[np.bool_]:
        """Mask of the windows whose centre lies in [start_s, end_s]."""
        return (self.t_s >= start_s) & (self.t_s <= end_s)


@dataclass(frozen=True)
class FoundSet:
    """One found set: its repetitions, times (s), median repetition period (s), confidence 0-1."""

    start_s: float
    end_s: float
    reps: list[Repetition]
    period_s: float
    confidence: float
    gravity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Mean direction of gravity during the set, sensor frame (unit vector)."""

    @property
    def count(self) -> int:
        """Number of repetitions in the set."""
        return len(self.reps)


class _Counted(Protocol):
    @property
    def count(self) -> int: ...


class SetTotals:
    """Repetition counts of a result made of sets (a found bout, a segmented session)."""

    sets: Sequence[_Counted]

    @property
    def reps_per_set(self) -> list[int]:
        """Repetition count of each set."""
        return [s.count for s in self.sets]

    @property
    def total_reps(self) -> int:
        """Total repetitions over all sets."""
        return sum(self.reps_per_set)


@dataclass(frozen=True)
class ExerciseBout(SetTotals):
    """One period of exercise: its sets, the rests between them (s) and a confidence 0-1.

    ``exercise`` is the library exercise it most resembles (``None`` when not asked or no
    score reaches 0.25) and ``exercise_score`` that score (0-1); neither affects the counts.
    """

    start_s: float
    end_s: float
    sets: list[FoundSet]
    rests: list[tuple[float, float]]
    confidence: float
    exercise: str | None = None
    exercise_score: float = 0.0

    @property
    def period_s(self) -> float:
        """Median repetition duration over the bout, s."""
        return float(np.median([r.duration_s for s in self.sets for r in s.reps]))

    @property
    def rom_deg(self) -> float:
        """Median range of motion over the bout, degrees (NaN when unknown)."""
        vals = [r.rom_deg for s in self.sets for r in s.reps if np.isfinite(r.rom_deg)]
        return float(np.median(vals)) if vals else float("nan")


@dataclass(frozen=True)
class FindResult:
    """Result of :func:`find_exercise`.

    Attributes
    ----------
    bouts : list of ExerciseBout
        Exercise periods in time order.
    walking_s : list of (float, float)
        Walking bouts of the step counter, s.
    refused : list of (float, float, str)
        Candidate sets that were not taken for exercise, with the reason.
    features : WindowFeatures
        The sliding-window features.
    """

    bouts: list[ExerciseBout]
    walking_s: list[tuple[float, float]]
    refused: list[tuple[float, float, str]]
    features: WindowFeatures


def _block_mean(x: Array, k: int) -> Array:
    n = (x.shape[0] // k) * k
    return x[:n].reshape(-1, k, x.shape[1]).mean(axis=1)


def _best_peak(ac: Array, lo: int, hi: int) -> tuple[Array, Array]:
    """Highest local maximum of each autocorrelation row in lags [lo, hi] (value, lag)."""
    seg = ac[:, lo - 1 : hi + 2]
    mid = seg[:, 1:-1]
    is_peak = (mid >= seg[:, :-2]) & (mid >= seg[:, 2:])
    vals = np.where(is_peak, mid, -1.0)
    arg = np.argmax(vals, axis=1)
    best = vals[np.arange(vals.shape[0]), arg]
    return np.clip(best, 0.0, 1.0), (arg + lo).astype(np.float64)


def periodicity_features(accel_g: Any, fs_hz: float) -> WindowFeatures:
    """Sliding-window periodicity features of an accelerometer recording (RecoFit "find").

    Parameters
    ----------
    accel_g : array_like, shape (N, 3)
        Accelerometer, g.
    fs_hz : float
        Sample rate, Hz.

    Returns
    -------
    WindowFeatures
        One row per window of :data:`WINDOW_S` s every :data:`HOP_S` s (none when the
        recording is shorter than a window).
    """
    fs = check_fs(fs_hz)
    return _features(check_accel_g(accel_g, fs), fs)


def _features(acc: Array, fs: float) -> WindowFeatures:
    """:func:`periodicity_features` of a validated float64 (N, 3) accelerometer (g, ``fs`` Hz)."""
    k = max(1, int(fs // FEATURE_FS_HZ))
    x, f = _block_mean(acc, k), fs / k
    win, hop = int(round(WINDOW_S * f)), max(1, int(round(HOP_S * f)))
    lags = {
        name: (max(1, int(a * f)), int(np.ceil(b * f)))
        for name, (a, b) in (("rep", REP_LAG_S), ("step", STEP_LAG_S))
    }
    if x.shape[0] < win:
        empty = np.empty(0)
        return WindowFeatures(empty, empty, empty, empty, empty)
    starts = np.arange(0, x.shape[0] - win + 1, hop)
    hi_rep = min(lags["rep"][1], win - 2)
    parts = [
        _window_block(x, starts[i : i + WINDOW_BLOCK], win, (lags["rep"][0], hi_rep), lags["step"])
        for i in range(0, starts.size, WINDOW_BLOCK)
    ]
    rep_r, rep_lag, step_r, std_g = (np.concatenate([p[j] for p in parts]) for j in range(4))
    return WindowFeatures(
        t_s=(starts + win / 2) / f, rep_r=rep_r, rep_lag_s=rep_lag / f, step_r=step_r, std_g=std_g
    )


def _window_block(
    x: Array, starts: NDArray[np.int64], win: int, rep: tuple[int, int], step: tuple[int, int]
) -> tuple[Array, Array, Array, Array]:
    """Features of the windows starting at ``starts`` (samples): rep_r, rep lag (samples),
    step_r, std (g). Done in blocks so that a day of data needs little memory."""
    w = np.lib.stride_tricks.sliding_window_view(x, win, axis=0)[starts]  # (W, 3, win)
    w = w - w.mean(axis=2, keepdims=True)
    _, vecs = np.linalg.eigh(gram3(w))
    proj = np.einsum("wi,wit->wt", vecs[:, :, -1], w)
    ac = np.fft.irfft(np.abs(np.fft.rfft(proj, n=2 * win, axis=1)) ** 2, axis=1)[:, :win]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    rep_r, rep_lag = _best_peak(ac, *rep)
    step_r, _ = _best_peak(ac, *step)
    return rep_r, rep_lag, step_r, proj.std(axis=1)


_Bound = TypeVar("_Bound", int, float)


def _union(spans: Iterable[tuple[_Bound, _Bound]]) -> list[tuple[_Bound, _Bound]]:
    """The union of spans ``(a, b)`` (seconds or samples) as disjoint spans in order: spans that
    overlap or touch are merged.

    >>> _union([(5, 7), (0, 2), (1, 3), (3, 4)])
    [(0, 4), (5, 7)]
    """
    out: list[tuple[_Bound, _Bound]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _regions(
    feat: WindowFeatures, whole: list[tuple[float, float]], duration_s: float
) -> list[tuple[float, float]]:
    """Candidate periods (s): periodic windows (RecoFit "find") and the whole-stream counter's
    repetitions, each padded by :data:`REGION_PAD_S`, overlapping ones merged."""
    m = (feat.rep_r >= REGION_MIN_R) & (feat.std_g >= REGION_MIN_STD_G) & (feat.rep_r > feat.step_r)
    half = WINDOW_S / 4  # the middle half of each periodic window
    spans = [(t - half, t + half) for t in feat.t_s[m].tolist()]
    spans += whole
    return _union((max(0.0, a - REGION_PAD_S), min(duration_s, b + REGION_PAD_S)) for a, b in spans)


def _moving_spans(feat: WindowFeatures, n: int, fs_hz: float) -> list[tuple[int, int]]:
    """Sample spans ``[a, b)`` around the windows that move at least :data:`MOVE_MIN_STD_G`,
    widened by :data:`MOVE_PAD_S` and merged; the whole stream when it has no window."""
    if feat.t_s.size == 0:
        return [(0, n)]
    half = WINDOW_S / 2 + MOVE_PAD_S
    moving = feat.t_s[feat.std_g >= MOVE_MIN_STD_G].tolist()
    return _union(
        (max(0, int((t - half) * fs_hz)), min(n, int(np.ceil((t + half) * fs_hz)))) for t in moving
    )


def _stream_reps(acc: Array, fs_hz: float, feat: WindowFeatures) -> list[tuple[float, float]]:
    """Repetition spans (s) of ``count_reps`` over the moving parts of the stream
    (:func:`_moving_spans`: a still or barely moving hour is skipped, it cannot hold a
    repetition the counter counts), in chunks of :data:`STREAM_CHUNK_S` overlapping by
    :data:`STREAM_OVERLAP_S` (bounded memory for a day)."""
    step, over = int(STREAM_CHUNK_S * fs_hz), int(STREAM_OVERLAP_S * fs_hz)
    spans: list[tuple[float, float]] = []
    for a, b in _moving_spans(feat, acc.shape[0], fs_hz):
        for i0 in range(a, max(b - over, a + 1), step):
            res = count_reps_validated(
                acc[i0 : min(b, i0 + step + over)], fs_hz, with_rom=False
            )  # only the repetitions' times are used here
            off = i0 / fs_hz
            spans += [(x + off, y + off) for x, y in zip(res.start_s, res.end_s, strict=True)]
    return spans


class _CountedIn:
    """Repetitions of :func:`features.reps.count_reps` run on [a_s, b_s] only (times in s from
    the recording start), their ranges of motion still NaN: :meth:`with_rom` computes them
    for the repetitions of a set that is kept, exactly as ``count_reps`` would have (the same
    samples, gyroscope and indices), and none for the many candidates that are refused."""

    def __init__(
        self,
        acc: Array,
        fs_hz: float,
        gyro_dps: Any,
        gyro_fs_hz: float | None,
        a_s: float,
        b_s: float,
    ) -> None:
        self.reps: list[Repetition] = []
        i0, i1 = int(a_s * fs_hz), int(np.ceil(b_s * fs_hz))
        if i1 - i0 < 2:
            return
        gyro = None
        if gyro_dps is not None:
            g_fs = gyro_fs_hz or fs_hz
            gyro = np.asarray(gyro_dps, dtype=np.float64)[
                int(a_s * g_fs) : int(np.ceil(b_s * g_fs))
            ]
        self._acc, self._fs = acc[i0:i1], fs_hz
        self._gyr = checked_gyro(gyro, gyro_fs_hz, self._acc.shape[0], fs_hz)
        res = count_reps_validated(self._acc, fs_hz, with_rom=False)  # the count ignores gyro
        # sample indices of the repetitions in the slice (times are index / fs, exactly)
        self._idx = [
            (round(a * fs_hz), round(b * fs_hz))
            for a, b in zip(res.start_s, res.end_s, strict=True)
        ]
        off = i0 / fs_hz
        self.reps = [
            Repetition(r.start_s + off, r.end_s + off, r.duration_s, r.rom_deg) for r in res.reps
        ]

    def with_rom(self, k: Sequence[int]) -> list[Repetition]:
        """Repetitions ``k`` with their ranges of motion (degrees)."""
        return [
            replace(self.reps[i], rom_deg=rom_deg(self._acc, self._gyr, self._fs, *self._idx[i]))
            for i in k
        ]


def _candidate_sets(reps: list[Repetition], min_rest_s: float) -> list[list[int]]:
    """Group repetitions into sets (indices into ``reps``): a pause longer than ``min_rest_s``
    starts a new set."""
    if not reps:
        return []
    start = np.array([r.start_s for r in reps])
    end = np.array([r.end_s for r in reps])
    idx = set_indices(start, end, min_rest_s)
    return [np.flatnonzero(idx == k).tolist() for k in range(int(idx[-1]) + 1)]


def _overlap_s(a: float, b: float, spans: Sequence[tuple[float, float]]) -> float:
    return float(sum(max(0.0, min(b, e) - max(a, s)) for s, e in spans))


def _walking_reason(
    a: float,
    b: float,
    period_s: float,
    walking: Sequence[tuple[float, float]],
    feat: WindowFeatures,
) -> str:
    """Why a candidate set is walking ("" when it is not)."""
    if period_s < MIN_REP_S:
        return f"repetitions of {period_s:.2f} s are faster than home exercise (walking cadence)"
    m = feat.inside(a, b)
    step_r = float(np.median(feat.step_r[m])) if m.any() else 0.0
    share = _overlap_s(a, b, walking) / max(b - a, 1e-9)
    gait_like = step_r >= MIN_GAIT_STEP_R or period_s < MAX_STRIDE_S
    if share > MAX_WALK_OVERLAP and gait_like:
        return f"{100 * share:.0f}% of the set is walking by the step counter"
    if m.any():
        steps = float(np.mean(feat.step_r[m] > feat.rep_r[m]))
        if steps > MIN_STEP_SHARE:
            return f"{100 * steps:.0f}% of its windows repeat at a walking cadence"
    return ""


def _set_periodicity(acc: Array, fs_hz: float, a_s: float, b_s: float, period_s: float) -> float:
    """Normalised autocorrelation (0-1) of a set's principal-axis signal near its period."""
    x = acc[int(a_s * fs_hz) : int(np.ceil(b_s * fs_hz)) + 1]
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    p = x @ vt[0]
    n = p.size
    ac = np.fft.irfft(np.abs(np.fft.rfft(p, 2 * n)) ** 2)[:n]
    ac = ac / np.maximum(ac[0], 1e-12) * n / np.maximum(n - np.arange(n), 1)  # unbiased
    lo, hi = int(0.7 * period_s * fs_hz), min(int(np.ceil(1.3 * period_s * fs_hz)), n // 2)
    return float(np.clip(ac[lo : hi + 1].max(), 0.0, 1.0)) if hi > lo else 0.0


def _confidence(reps: list[Repetition], acc: Array, fs_hz: float) -> float:
    """Periodicity at the repetition period times the regularity of the durations (0-1)."""
    dur = np.array([r.duration_s for r in reps])
    regular = max(0.0, 1.0 - float(dur.std() / max(dur.mean(), 1e-9)))
    r = _set_periodicity(acc, fs_hz, reps[0].start_s, reps[-1].end_s, float(np.median(dur)))
    return round(r * regular, 3)


def _same_movement(a: FoundSet, b: FoundSet, max_rest_s: float) -> bool:
    """Two sets belong to one bout: close in time, similar pace and sensor orientation."""
    ratio = max(a.period_s, b.period_s) / max(min(a.period_s, b.period_s), 1e-9)
    cos = float(np.dot(a.gravity, b.gravity))
    return b.start_s - a.end_s <= max_rest_s and ratio <= 2.0 and cos >= MAX_TURN_COS


def _bouts(sets: list[FoundSet], max_rest_s: float) -> list[ExerciseBout]:
    groups: list[list[FoundSet]] = []
    for s in sets:
        if groups and _same_movement(groups[-1][-1], s, max_rest_s):
            groups[-1].append(s)
        else:
            groups.append([s])
    out = []
    for g in groups:
        n = np.array([s.count for s in g], dtype=np.float64)
        conf = float(np.sum(n * [s.confidence for s in g]) / n.sum())
        rests = [(x.end_s, y.start_s) for x, y in zip(g[:-1], g[1:], strict=True)]
        out.append(ExerciseBout(g[0].start_s, g[-1].end_s, g, rests, round(conf, 3)))
    return out


def _range_fit(value: float, lo: float, hi: float) -> float:
    """How well ``value`` fits [lo, hi] (0-1): 1 at the centre, 0.5 at the edges, then decaying."""
    if not np.isfinite(value):
        return 0.5
    if lo <= value <= hi:
        half = max((hi - lo) / 2.0, 1e-9)
        return 1.0 - 0.5 * ((value - (lo + hi) / 2.0) / half) ** 2
    d = (lo - value) / lo if value < lo else (value - hi) / hi
    return float(0.5 * np.exp(-3.0 * d))


def resemblance(
    period_s: float, rom_deg: float, candidates: Sequence[str] | None = None
) -> list[tuple[str, float]]:
    """Score library exercises against a repetition duration (s) and range of motion (deg).

    The score (0-1) is the product of how well the duration fits the exercise's
    ``rep_duration_s`` and how well the range of motion fits its best placement's ``rom_deg``
    (1 at the centre of a range, 0.5 at its edges, decaying outside). ``candidates`` limits the exercises (e.g. those of a
    care plan). Returns (exercise id, score), best first. The sensor's mounting is unknown, so
    the posture and axes of the profiles are not used.
    """
    lib = load_library()
    ids = list(candidates) if candidates is not None else sorted(lib)
    unknown = [i for i in ids if i not in lib]
    if unknown:
        raise InputError("candidates", ", ".join(unknown), "not in the exercise library")
    scored = [(i, _profile_fit(lib[i], period_s, rom_deg)) for i in ids]
    return sorted(scored, key=lambda p: (-p[1], p[0]))


def _profile_fit(p: ExerciseProfile, period_s: float, rom_deg: float) -> float:
    fit_t = _range_fit(period_s, *p.rep_duration_s)
    fit_rom = max(_range_fit(rom_deg, lo, hi) for lo, hi in p.rom_deg.values())
    return round(fit_t * fit_rom, 3)


def _label(bout: ExerciseBout, candidates: Sequence[str] | None) -> ExerciseBout:
    ranked = resemblance(bout.period_s, bout.rom_deg, candidates)
    if not ranked or ranked[0][1] < 0.25:
        return bout
    ex, score = ranked[0]
    return ExerciseBout(bout.start_s, bout.end_s, bout.sets, bout.rests, bout.confidence, ex, score)


def _check_options(min_rest_s: float, max_rest_s: float, min_set_reps: int) -> None:
    if not (np.isfinite(min_rest_s) and min_rest_s > 0):
        raise InputError("min_rest_s", "", f"must be > 0 s, got {min_rest_s}")
    if not (np.isfinite(max_rest_s) and max_rest_s >= min_rest_s):
        raise InputError("max_rest_s", "", f"must be >= min_rest_s, got {max_rest_s}")
    if min_set_reps < 1:
        raise InputError("min_set_reps", "", f"must be >= 1, got {min_set_reps}")


def find_exercise(
    accel_g: Any,
    fs_hz: float,
    gyro_dps: Any = None,
    *,
    gyro_fs_hz: float | None = None,
    min_rest_s: float = 10.0,
    max_rest_s: float = 180.0,
    min_set_reps: int = 3,
    min_confidence: float = 0.0,
    recognise: bool = True,
    candidates: Sequence[str] | None = None,
) -> FindResult:
    """Find the periods of repetitive exercise in a continuous recording.

    Parameters
    ----------
    accel_g : array_like, shape (N, 3)
        Accelerometer, g, any orientation and placement, uniformly sampled.
    fs_hz : float
        Sample rate, Hz (10 to 2000: the step counter needs >= 10 Hz).
    gyro_dps : array_like, optional
        Gyroscope, degrees per second (range of motion; see :func:`features.reps.count_reps`).
    gyro_fs_hz : float, optional
        Gyroscope rate when it differs from ``fs_hz``, Hz.
    min_rest_s : float
        A pause between repetitions longer than this separates two sets, s.
    max_rest_s : float
        Sets further apart than this (s), or moving differently, are separate bouts.
    min_set_reps : int
        Fewer repetitions than this are not a set.
    min_confidence : float
        Sets with a lower confidence (0-1) are refused.
    recognise : bool
        Name the library exercise each bout most resembles (:func:`resemblance`).
    candidates : sequence of str, optional
        Library ids to choose from when recognising (default: the whole library).

    Returns
    -------
    FindResult
        Bouts with sets, rests, repetitions (times in s from the first sample) and confidences;
        walking bouts; refused candidate sets with reasons; the window features.

    Raises
    ------
    InputError
        Wrong shape, NaN, m/s^2, a sample rate out of range, bad options.

    References
    ----------
    .. [1] D. Morris et al., "RecoFit", CHI 2014. https://doi.org/10.1145/2556288.2557116
    """
    _check_options(min_rest_s, max_rest_s, min_set_reps)
    fs = check_fs(fs_hz)
    acc = check_accel_g(accel_g, fs)
    if fs < 10.0:
        raise InputError("fs_hz", "", f"finding needs >= 10 Hz for the step counter, got {fs}")
    feat = _features(acc, fs)
    walking: list[tuple[float, float]] = []
    if acc.shape[0] >= 2:
        steps = count_steps(acc, fs)
        walking = [
            (b.start_s, b.end_s)
            for b in walking_bouts(steps.step_times_s)
            if WALK_CADENCE_SPM[0] <= b.cadence_spm <= WALK_CADENCE_SPM[1]
        ]
    whole = _stream_reps(acc, fs, feat)
    kept: list[FoundSet] = []
    refused: list[tuple[float, float, str]] = []
    pending: list[tuple[_CountedIn, list[int]]] = []
    for a_s, b_s in _regions(feat, whole, acc.shape[0] / fs):
        counted = _CountedIn(acc, fs, gyro_dps, gyro_fs_hz, a_s, b_s)
        pending += [(counted, k) for k in _candidate_sets(counted.reps, min_rest_s)]
    for counted, k in pending:
        reps = [counted.reps[i] for i in k]
        found, reason = _judge(reps, acc, fs, min_set_reps, min_confidence, walking, feat)
        if found is not None:
            kept.append(replace(found, reps=counted.with_rom(k)))
        else:
            refused.append((reps[0].start_s, reps[-1].end_s, reason))
    bouts = _bouts(kept, max_rest_s)
    if recognise:
        bouts = [_label(b, candidates) for b in bouts]
    return FindResult(bouts, walking, refused, feat)


def _judge(
    reps: list[Repetition],
    acc: Array,
    fs_hz: float,
    min_set_reps: int,
    min_confidence: float,
    walking: Sequence[tuple[float, float]],
    feat: WindowFeatures,
) -> tuple[FoundSet | None, str]:
    """Accept a candidate set as a :class:`FoundSet`, or say why not."""
    a, b = reps[0].start_s, reps[-1].end_s
    if len(reps) < min_set_reps:
        return None, f"{len(reps)} repetition(s), fewer than {min_set_reps}"
    period = float(np.median([r.duration_s for r in reps]))
    reason = _walking_reason(a, b, period, walking, feat)
    if reason:
        return None, reason
    conf = _confidence(reps, acc, fs_hz)
    if conf < min_confidence:
        return None, f"confidence {conf:.2f} under {min_confidence}"
    return FoundSet(a, b, reps, period, conf, _gravity(acc, fs_hz, a, b)), ""


def _gravity(acc: Array, fs_hz: float, a_s: float, b_s: float) -> tuple[float, float, float]:
    g = acc[int(a_s * fs_hz) : int(np.ceil(b_s * fs_hz)) + 1].mean(axis=0)
    u = g / max(float(np.linalg.norm(g)), 1e-9)
    return (float(u[0]), float(u[1]), float(u[2]))
