"""Walking bouts, cadence, steps per minute and per day, and wear / non-wear detection.

All times inside are UTC nanoseconds (``*_ns``) or seconds from a recording start
(``*_s``); local time appears only in :func:`daily_summary`, where a day boundary is decided in an
explicit :class:`zoneinfo.ZoneInfo`.

A day with little wear is *not judgeable* (``DaySummary.judgeable`` is ``False``) rather than
"inactive": a coach sees "not enough wear" instead of a day of zero steps.

References
----------
.. [1] van Hees VT, Renström F, Wright A, et al. "Estimation of daily energy expenditure in
   pregnant and non-pregnant women using a wrist-worn tri-axial accelerometer." PLoS ONE
   2011; 6(7): e22922. doi:10.1371/journal.pone.0022922
.. [2] van Hees VT, Gorzelniak L, Dean León EC, et al. "Separating movement and gravity
   components in an acceleration signal and implications for the assessment of human daily
   physical activity." PLoS ONE 2013; 8(4): e61691. doi:10.1371/journal.pone.0061691
.. [3] Tudor-Locke C, Rowe DA. "Using cadence to study free-living ambulatory behaviour."
   Sports Med 2012; 42(5): 381-398 (bouts and cadence bands).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from devices.errors import InputError
from features.validation import STEP_FS_RANGE_HZ, check_fs, check_xyz

__all__ = [
    "DaySummary",
    "MinuteStats",
    "MinuteSteps",
    "WalkingBout",
    "WearResult",
    "accel_minute_stats",
    "daily_summary",
    "detect_wear",
    "steps_per_minute",
    "walking_bouts",
    "wear_from_minute_stats",
]

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _step_times(step_times_s: npt.ArrayLike) -> FloatArray:
    t = np.asarray(step_times_s, dtype=np.float64)
    if t.ndim != 1:
        raise InputError("step_times_s", "shape", f"wrong shape {t.shape}, need (n,)")
    if not np.all(np.isfinite(t)):
        raise InputError("step_times_s", "values", "contains NaN or inf")
    if t.size > 1 and np.any(np.diff(t) < 0):
        raise InputError("step_times_s", "order", "non-monotonic step times: must be sorted")
    return t


def _check_ns(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(name, name, f"must be integer ns, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- per minute


@dataclass(frozen=True, slots=True)
class MinuteSteps:
    """Steps per UTC minute.

    Attributes
    ----------
    minute_start_ns:
        int64 (M,), start of each minute, UTC ns, aligned to whole UTC minutes.
    steps:
        int64 (M,), steps whose time falls in ``[start, start + 60 s)``.
    """

    minute_start_ns: IntArray
    steps: IntArray


def steps_per_minute(
    step_times_s: npt.ArrayLike, start_ns: int, *, end_ns: int | None = None
) -> MinuteSteps:
    """Count steps per whole UTC minute.

    Parameters
    ----------
    step_times_s:
        Sorted step times, s from ``start_ns`` (``StepResult.step_times_s``).
    start_ns:
        UTC time of the first sample of the recording, ns.
    end_ns:
        UTC end of the recording, ns; minutes up to the one holding ``end_ns - 1`` are returned
        (with zeros where there were no steps). Default: up to the minute of the last step.

    Returns
    -------
    MinuteSteps
        One row per minute from the minute holding ``start_ns``; empty if there is nothing.

    Raises
    ------
    ValueError (:class:`devices.errors.InputError`)
        Unsorted or non-finite step times, steps before ``start_ns``, ``end_ns <= start_ns``.
    """
    t = _step_times(step_times_s)
    start = _check_ns("start_ns", start_ns)
    if t.size and t[0] < 0:
        raise InputError("step_times_s", "values", "negative step time (before start_ns)")
    step_ns = start + np.rint(t * NS_PER_S).astype(np.int64)
    m0 = start // NS_PER_MIN
    if end_ns is not None:
        end = _check_ns("end_ns", end_ns)
        if end <= start:
            raise InputError("steps_per_minute", "end_ns", "end_ns must be after start_ns")
        step_ns = step_ns[step_ns < end]
        m1 = (end - 1) // NS_PER_MIN
    elif step_ns.size:
        m1 = int(step_ns[-1]) // NS_PER_MIN
    else:
        return MinuteSteps(np.empty(0, np.int64), np.empty(0, np.int64))
    counts = np.bincount(step_ns // NS_PER_MIN - m0, minlength=m1 - m0 + 1).astype(np.int64)
    minutes = (m0 + np.arange(m1 - m0 + 1, dtype=np.int64)) * NS_PER_MIN
    return MinuteSteps(minutes, counts)


# --------------------------------------------------------------------------- bouts


@dataclass(frozen=True, slots=True)
class WalkingBout:
    """One walking bout.

    Attributes
    ----------
    start_s, end_s:
        Times of the first and the last step, s from the recording start.
    steps:
        Number of steps in the bout.
    cadence_spm:
        Mean cadence, steps per minute: ``(steps - 1) / (end_s - start_s) * 60``.
    """

    start_s: float
    end_s: float
    steps: int
    cadence_spm: float


def walking_bouts(
    step_times_s: npt.ArrayLike, *, min_steps: int = 10, max_gap_s: float = 3.0
) -> list[WalkingBout]:
    """Group steps into walking bouts.

    A bout is a run of at least ``min_steps`` consecutive steps in which no two neighbours are
    more than ``max_gap_s`` apart. Defaults (10 steps, 3 s) follow the common free-living
    definition (Tudor-Locke & Rowe 2012 use bouts of >= 10 steps/min; a 3 s break ends a bout).

    Parameters
    ----------
    step_times_s:
        Sorted step times, s.
    min_steps:
        Minimum number of steps of a bout (>= 2).
    max_gap_s:
        Largest pause inside a bout, s.

    Returns
    -------
    list of WalkingBout
        In time order; steps outside bouts are not reported.
    """
    t = _step_times(step_times_s)
    if min_steps < 2:
        raise InputError("walking_bouts", "min_steps", f"must be >= 2, got {min_steps}")
    if not max_gap_s > 0:
        raise InputError("walking_bouts", "max_gap_s", f"must be > 0 s, got {max_gap_s}")
    if t.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(t) > max_gap_s) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, t.size]
    out: list[WalkingBout] = []
    for s, e in zip(starts, ends, strict=True):
        n = int(e - s)
        if n >= min_steps:
            dur = float(t[e - 1] - t[s])
            cad = (n - 1) / dur * 60.0 if dur > 0 else 0.0
            out.append(WalkingBout(float(t[s]), float(t[e - 1]), n, cad))
    return out


# --------------------------------------------------------------------------- wear


@dataclass(frozen=True, slots=True)
class MinuteStats:
    """Per-minute statistics of a triaxial signal (for wear detection in chunks).

    Minute ``k`` covers samples ``[k * 60 * fs_hz, (k + 1) * 60 * fs_hz)`` from the start.
    ``n`` is (M,) samples per minute; ``mean_g``, ``min_g``, ``max_g`` are (M, 3) in g and
    ``m2_g2`` (M, 3) the sum of squared deviations from the minute mean, g^2 (the pairwise form
    of Chan et al. keeps float32 input exact enough). Join consecutive chunks that each hold whole
    minutes with :meth:`concat`.
    """

    n: IntArray
    mean_g: FloatArray
    m2_g2: FloatArray
    min_g: FloatArray
    max_g: FloatArray

    @staticmethod
    def concat(parts: list[MinuteStats]) -> MinuteStats:
        """Join the statistics of consecutive chunks (each holding whole minutes)."""
        return MinuteStats(
            np.concatenate([p.n for p in parts]),
            np.concatenate([p.mean_g for p in parts]),
            np.concatenate([p.m2_g2 for p in parts]),
            np.concatenate([p.min_g for p in parts]),
            np.concatenate([p.max_g for p in parts]),
        )


def accel_minute_stats(accel_g: npt.ArrayLike, fs_hz: float) -> MinuteStats:
    """Per-minute count, mean, sum of squared deviations, min and max of each axis.

    Parameters
    ----------
    accel_g:
        (N, 3) acceleration, g. NaN rows are gaps (left out of the statistics).
    fs_hz:
        Sample rate, Hz; ``60 * fs_hz`` must be a whole number of samples.

    Returns
    -------
    MinuteStats
        ``ceil(N / (60 fs_hz))`` rows; a minute without samples has ``n == 0`` and NaN stats.
    """
    fs = check_fs(fs_hz, "fs_hz", STEP_FS_RANGE_HZ)
    a = check_xyz(accel_g, "accel_g", "g", allow_nan=True, allow_empty=False, keep_float32=True)
    spm = 60.0 * fs
    if abs(spm - round(spm)) > 1e-9:
        raise InputError("accel_minute_stats", "fs_hz", f"60 * {fs} Hz is not whole samples")
    spm_i = int(round(spm))
    m = -(-a.shape[0] // spm_i)
    pad = m * spm_i - a.shape[0]
    dtype = a.dtype if a.dtype == np.float32 else np.float64
    xt = np.empty((3, m * spm_i), dtype=dtype)  # axis-major: reductions run on contiguous rows
    xt[:, : a.shape[0]] = a.T
    xt[:, a.shape[0] :] = np.nan
    x = xt.reshape(3, m, spm_i)
    if pad == 0 and np.isfinite(x.sum()):
        n = np.full(m, spm_i, dtype=np.int64)
        mean = x.sum(axis=2, dtype=np.float64) / spm_i
        d = x - mean[..., None].astype(dtype)
        m2 = np.einsum("ijk,ijk->ij", d, d, dtype=np.float64)
        mn = x.min(axis=2).astype(np.float64)
        mx = x.max(axis=2).astype(np.float64)
    else:
        ok = np.isfinite(x).all(axis=0)  # (m, spm)
        n = ok.sum(axis=1).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok, x, 0.0).sum(axis=2, dtype=np.float64) / n
            d = np.where(ok, x - mean[..., None], 0.0)
            m2 = (d * d).sum(axis=2)
            mn = np.where(ok, x, np.inf).min(axis=2).astype(np.float64)
            mx = np.where(ok, x, -np.inf).max(axis=2).astype(np.float64)
    return MinuteStats(n, mean.T.copy(), m2.T.copy(), mn.T.copy(), mx.T.copy())


@dataclass(frozen=True, slots=True)
class WearResult:
    """Per-minute wear mask.

    Attributes
    ----------
    start_ns:
        UTC time of the first sample, ns; minute ``k`` starts at ``start_ns + k * 60 s``.
    wear:
        bool (M,), ``True`` where the device was worn. Minutes without samples are not worn.
    """

    start_ns: int
    wear: BoolArray = field(repr=False)

    @property
    def wear_minutes(self) -> int:
        """Number of worn minutes."""
        return int(self.wear.sum())


def wear_from_minute_stats(
    stats: MinuteStats,
    *,
    start_ns: int = 0,
    window_min: int = 60,
    step_min: int = 15,
    sd_threshold_g: float = 0.013,
    range_threshold_g: float = 0.050,
    min_axes: int = 2,
) -> WearResult:
    """Classify wear from per-minute statistics (van Hees et al. 2011, 2013).

    For each ``step_min`` block (minutes ``[b, b + step_min)`` from the start), the ``window_min``
    window centred on it (minutes ``[b - h, b - h + window_min)`` with
    ``h = (window_min - step_min) // 2``) is non-wear when, for at
    least ``min_axes`` of the 3 axes, the standard deviation is below ``sd_threshold_g`` *or* the
    range is below ``range_threshold_g``. Defaults are those of van Hees 2013 (13 mg, 50 mg,
    2 of 3 axes, 60 min windows in 15 min steps; 2011 used 3 mg). A partial window at the ends is
    judged on the samples it has.

    Parameters
    ----------
    stats:
        :class:`MinuteStats` from :func:`accel_minute_stats`.
    start_ns:
        UTC ns of the first sample (copied into the result).

    Returns
    -------
    WearResult
    """
    if window_min < step_min or step_min < 1:
        raise InputError("wear", "window_min", "need window_min >= step_min >= 1")
    m = stats.n.size
    wear = np.zeros(m, dtype=bool)
    if m == 0:
        return WearResult(_check_ns("start_ns", start_ns), wear)
    half_extra = (window_min - step_min) // 2
    has = stats.n > 0
    for b0 in range(0, m, step_min):
        b1 = min(b0 + step_min, m)
        w0 = max(0, b0 - half_extra)
        w1 = min(m, b0 - half_extra + window_min)
        sel = has[w0:w1]
        ni = stats.n[w0:w1][sel].astype(np.float64)
        n = float(ni.sum())
        if n < 2:
            continue
        mi = stats.mean_g[w0:w1][sel]
        mu = (ni[:, None] * mi).sum(axis=0) / n
        m2 = stats.m2_g2[w0:w1][sel].sum(axis=0) + (ni[:, None] * (mi - mu) ** 2).sum(axis=0)
        sd = np.sqrt(m2 / (n - 1))
        rng = stats.max_g[w0:w1][sel].max(axis=0) - stats.min_g[w0:w1][sel].min(axis=0)
        still = (sd < sd_threshold_g) | (rng < range_threshold_g)
        wear[b0:b1] = int(still.sum()) < min_axes
    wear &= stats.n > 0
    return WearResult(_check_ns("start_ns", start_ns), wear)


def detect_wear(
    accel_g: npt.ArrayLike,
    fs_hz: float,
    *,
    start_ns: int = 0,
    sd_threshold_g: float = 0.013,
    range_threshold_g: float = 0.050,
) -> WearResult:
    """Per-minute wear / non-wear of a triaxial accelerometer (van Hees 2013 criterion).

    Parameters
    ----------
    accel_g:
        (N, 3) acceleration, g; NaN rows are gaps (not worn).
    fs_hz:
        Sample rate, Hz.
    start_ns:
        UTC ns of the first sample.
    sd_threshold_g, range_threshold_g:
        Thresholds of :func:`wear_from_minute_stats`, g.

    Returns
    -------
    WearResult
        One flag per started minute of the recording.
    """
    stats = accel_minute_stats(accel_g, fs_hz)
    return wear_from_minute_stats(
        stats,
        start_ns=start_ns,
        sd_threshold_g=sd_threshold_g,
        range_threshold_g=range_threshold_g,
    )


# --------------------------------------------------------------------------- days


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One local calendar day.

    Attributes
    ----------
    date:
        Local date in the summary's time zone.
    steps:
        Steps during the local day.
    wear_min:
        Worn minutes during the whole local day.
    waking_wear_min:
        Worn minutes during the waking window of the day.
    judgeable:
        ``True`` when ``waking_wear_min >= min_wear_h * 60``; a day that is not judgeable must
        be shown as "not enough wear", not as "inactive".
    walking_min:
        Minutes with at least ``walking_min_steps`` steps.
    """

    date: dt.date
    steps: int
    wear_min: int
    waking_wear_min: int
    judgeable: bool
    walking_min: int


def _local_ns(day: dt.date, hour: float, tz: ZoneInfo) -> int:
    """UTC ns of a local wall-clock time ``hour`` on ``day`` (handles DST)."""
    base = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    if hour == 0:
        return int(base.timestamp()) * NS_PER_S
    h = int(hour)
    m = int(round((hour - h) * 60))
    if h >= 24:
        nxt = day + dt.timedelta(days=1)
        return int(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()) * NS_PER_S
    return int(base.replace(hour=h, minute=m).timestamp()) * NS_PER_S


def daily_summary(
    step_times_s: npt.ArrayLike,
    start_ns: int,
    wear: WearResult,
    tz: ZoneInfo | str,
    *,
    min_wear_h: float = 10.0,
    waking_hours: tuple[float, float] = (7.0, 23.0),
    walking_min_steps: int = 60,
) -> list[DaySummary]:
    """Steps and wear per local calendar day, with a ``judgeable`` flag.

    Parameters
    ----------
    step_times_s:
        Sorted step times, s from ``start_ns``.
    start_ns:
        UTC ns of the first sample.
    wear:
        Per-minute wear mask (:func:`detect_wear`), minutes counted from ``wear.start_ns``.
    tz:
        Time zone in which days are decided (``ZoneInfo`` or an IANA name such as
        ``"Europe/London"``).
    min_wear_h:
        Worn hours of the waking window needed to judge a day, h (default 10 h, the usual
        valid-day rule of accelerometer studies).
    waking_hours:
        Local waking window (start, end), hours from midnight (default 07:00-23:00).
    walking_min_steps:
        A minute with at least this many steps is a walking minute (60 steps/min).

    Returns
    -------
    list of DaySummary
        One per local date touched by the wear mask, in order.
    """
    t = _step_times(step_times_s)
    start = _check_ns("start_ns", start_ns)
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    lo_h, hi_h = waking_hours
    if not (0 <= lo_h < hi_h <= 24):
        raise InputError(
            "daily_summary", "waking_hours", f"need 0 <= start < end <= 24: {waking_hours}"
        )
    m = wear.wear.size
    if m == 0:
        return []
    minute_ns = wear.start_ns + np.arange(m, dtype=np.int64) * NS_PER_MIN
    step_ns = start + np.rint(t * NS_PER_S).astype(np.int64)
    spm = steps_per_minute(t, start, end_ns=max(start + 1, int(minute_ns[-1]) + NS_PER_MIN))
    first = dt.datetime.fromtimestamp(minute_ns[0] / NS_PER_S, tz=zone).date()
    last = dt.datetime.fromtimestamp(minute_ns[-1] / NS_PER_S, tz=zone).date()
    out: list[DaySummary] = []
    day = first
    while day <= last:
        d0 = _local_ns(day, 0, zone)
        d1 = _local_ns(day, 24, zone)
        w0 = _local_ns(day, lo_h, zone)
        w1 = _local_ns(day, hi_h, zone)
        in_day = (minute_ns >= d0) & (minute_ns < d1)
        in_wake = (minute_ns >= w0) & (minute_ns < w1)
        steps = int(np.searchsorted(step_ns, d1) - np.searchsorted(step_ns, d0))
        wake_wear = int((wear.wear & in_wake).sum())
        sm = (spm.minute_start_ns >= d0) & (spm.minute_start_ns < d1)
        out.append(
            DaySummary(
                day,
                steps,
                int((wear.wear & in_day).sum()),
                wake_wear,
                wake_wear >= min_wear_h * 60,
                int((spm.steps[sm] >= walking_min_steps).sum()),
            )
        )
        day += dt.timedelta(days=1)
    return out
