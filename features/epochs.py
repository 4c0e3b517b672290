"""Continuous minute series and stepcount-style daily step figures.

Researchers' tools (stepcount, GGIR) expect one row per minute from the first to the last minute
with data, whether or not the sensor was worn, and daily figures that account for non-wear. This
module builds that series from the two sources the pipeline has, and computes the daily figures.

Minute series
-------------
:func:`minute_series` merges, per UTC minute:

* ``raw``: steps counted from the accelerometer (:func:`features.steps.count_steps` then
  :func:`features.activity.steps_per_minute`) in minutes the accelerometer was worn;
* ``pedometer``: a wearable's running totals turned into intervals
  (:func:`devices.pedometer.totals_to_intervals`); an interval's steps are spread evenly over the
  minutes it covers (by overlap, so the minute sums equal the interval's steps), and only
  intervals of at most ``max_interval_min`` count as worn (a longer silence is a device that was
  off or not worn, as in the daily rule of :mod:`adherence.pipeline`).

Where both cover a worn minute the accelerometer wins (it times steps to the second). A minute
covered by neither is not worn: its steps are NaN, never 0.

Daily figures (:func:`daily_step_stats`)
----------------------------------------
* ``walking_min``: worn minutes with at least :data:`WALKING_MIN_SPM` steps (60 steps/min:
  purposeful walking, Tudor-Locke et al. 2011, IJBNPA 8:80, doi:10.1186/1479-5868-8-80).
* ``active_min``: worn minutes with at least :data:`MODERATE_MIN_SPM` steps (100 steps/min, the
  cadence of moderate-intensity walking in adults: Tudor-Locke et al. 2018, Br J Sports Med
  52:776-788, doi:10.1136/bjsports-2017-097628).
* ``peak1_spm``: the highest one-minute cadence of the day.
* ``peak30_spm``: the mean of the day's 30 highest one-minute cadences, not necessarily
  consecutive (Tudor-Locke et al. 2012, Med Sci Sports Exerc 44:2200, "peak 30-minute cadence";
  stepcount's ``CadencePeak30``). Days with fewer than 30 worn minutes get NaN.
* ``p95_spm``: the 95th percentile of cadence over the walking minutes (stepcount's
  ``Cadence95th``), NaN without walking minutes.

These follow the daily outputs of stepcount (Small et al., "Self-supervised machine learning to
characterize step counts from wrist-worn accelerometers in the UK Biobank", Med Sci Sports
Exerc 2024; github.com/OxWearables/stepcount), computed from minute counts rather than from its
walking classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.errors import InputError

NS_PER_MIN = 60_000_000_000
WALKING_MIN_SPM = 60
"""A worn minute with at least this many steps is a walking minute (steps/min)."""
MODERATE_MIN_SPM = 100
"""A worn minute with at least this many steps is a moderate-intensity (active) minute."""
PEAK_MINUTES = 30
"""Minutes averaged for the peak-30 cadence."""

SOURCE_RAW = "raw"
SOURCE_PEDOMETER = "pedometer"
SOURCE_NONE = ""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MinuteSeries:
    """One row per UTC minute, continuous from the first to the last minute with data.

    Attributes
    ----------
    minute_ns:
        int64 (M,), start of each minute, UTC ns (whole minutes, step 60 s).
    steps:
        float64 (M,), steps in the minute; NaN where not worn.
    wear:
        bool (M,), whether a source covered the minute while worn.
    source:
        str (M,), ``"raw"`` (accelerometer), ``"pedometer"`` or ``""`` (not worn).
    """

    minute_ns: IntArray
    steps: FloatArray
    wear: npt.NDArray[np.bool_]
    source: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.minute_ns.size)


def _minutes(values: npt.ArrayLike, name: str) -> IntArray:
    a = np.asarray(values, dtype=np.int64).reshape(-1)
    if np.any(a % NS_PER_MIN):
        raise InputError("minute_series", name, "minute times must be whole UTC minutes (ns)")
    return a


def _pedometer_minutes(
    start_ns: IntArray, end_ns: IntArray, steps: IntArray, max_interval_min: float
) -> dict[int, float]:
    """Spread each worn interval's steps over the minutes it overlaps (minute ns -> steps)."""
    out: dict[int, float] = {}
    for a, b, k in zip(start_ns.tolist(), end_ns.tolist(), steps.tolist(), strict=True):
        if b <= a or (b - a) > max_interval_min * NS_PER_MIN:
            continue
        m0, m1 = a // NS_PER_MIN * NS_PER_MIN, (b - 1) // NS_PER_MIN * NS_PER_MIN
        for m in range(m0, m1 + NS_PER_MIN, NS_PER_MIN):
            overlap = min(b, m + NS_PER_MIN) - max(a, m)
            out[m] = out.get(m, 0.0) + k * overlap / (b - a)
    return out


def minute_series(
    raw_minute_ns: npt.ArrayLike,
    raw_steps: npt.ArrayLike,
    raw_worn: npt.ArrayLike,
    pedometer_start_ns: npt.ArrayLike = (),
    pedometer_end_ns: npt.ArrayLike = (),
    pedometer_steps: npt.ArrayLike = (),
    *,
    max_interval_min: float = 30.0,
) -> MinuteSeries:
    """Merge accelerometer minutes and pedometer intervals into a continuous minute series.

    Parameters
    ----------
    raw_minute_ns, raw_steps, raw_worn:
        Accelerometer minutes: start (UTC ns, whole minutes), steps, and whether worn.
    pedometer_start_ns, pedometer_end_ns, pedometer_steps:
        Pedometer intervals, UTC ns and steps (``totals_to_intervals``).
    max_interval_min:
        Longest pedometer interval (minutes) that counts as worn.

    Returns
    -------
    MinuteSeries
        Empty when neither source has data.

    Examples
    --------
    >>> s = minute_series([0, 60_000_000_000], [12, 0], [True, False],
    ...                   [180_000_000_000], [300_000_000_000], [30])
    >>> s.steps.tolist(), s.source.tolist()
    ([12.0, nan, nan, 15.0, 15.0], ['raw', '', '', 'pedometer', 'pedometer'])
    """
    rm = _minutes(raw_minute_ns, "raw_minute_ns")
    rs = np.asarray(raw_steps, dtype=np.float64).reshape(-1)
    rw = np.asarray(raw_worn, dtype=bool).reshape(-1)
    if not rm.size == rs.size == rw.size:
        raise InputError("minute_series", "raw_*", "raw minutes, steps and wear differ in length")
    ps = np.asarray(pedometer_start_ns, dtype=np.int64).reshape(-1)
    pe = np.asarray(pedometer_end_ns, dtype=np.int64).reshape(-1)
    pk = np.asarray(pedometer_steps, dtype=np.int64).reshape(-1)
    if not ps.size == pe.size == pk.size:
        raise InputError("minute_series", "pedometer_*", "interval arrays differ in length")
    ped = _pedometer_minutes(ps, pe, pk, max_interval_min)
    known = rm.tolist() + list(ped)
    if not known:
        empty = np.empty(0)
        return MinuteSeries(
            empty.astype(np.int64), empty, empty.astype(bool), empty.astype(np.str_)
        )
    first, last = min(known), max(known)
    minutes = np.arange(first, last + NS_PER_MIN, NS_PER_MIN, dtype=np.int64)
    steps = np.full(minutes.size, np.nan)
    source = np.full(minutes.size, SOURCE_NONE, dtype="<U9")
    if ped:
        pm = np.fromiter(ped, dtype=np.int64, count=len(ped))
        idx = (pm - first) // NS_PER_MIN
        steps[idx] = np.fromiter(ped.values(), dtype=np.float64, count=len(ped))
        source[idx] = SOURCE_PEDOMETER
    worn = rm[rw]
    idx = (worn - first) // NS_PER_MIN
    steps[idx] = rs[rw]
    source[idx] = SOURCE_RAW
    return MinuteSeries(minutes, steps, source != SOURCE_NONE, source)


@dataclass(frozen=True)
class DailyStepStats:
    """stepcount-style figures of one day (see the module docstring for each definition).

    Attributes
    ----------
    steps:
        Steps over the worn minutes.
    wear_min, walking_min, active_min:
        Worn minutes; worn minutes >= 60 steps; worn minutes >= 100 steps.
    peak1_spm, peak30_spm, p95_spm:
        Cadences, steps/min (NaN where undefined).
    """

    steps: float
    wear_min: int
    walking_min: int
    active_min: int
    peak1_spm: float
    peak30_spm: float
    p95_spm: float


def daily_step_stats(steps_per_min: npt.ArrayLike) -> DailyStepStats:
    """Daily figures from one day's minute steps (NaN = not worn).

    Parameters
    ----------
    steps_per_min:
        Steps in each minute of the day (any length; NaN where not worn).

    Examples
    --------
    >>> d = daily_step_stats([0.0] * 20 + [110.0] * 10 + [70.0] * 10 + [float("nan")] * 5)
    >>> (d.steps, d.wear_min, d.walking_min, d.active_min, d.peak1_spm, d.peak30_spm)
    (1800.0, 40, 20, 10, 110.0, 60.0)
    """
    x = np.asarray(steps_per_min, dtype=np.float64).reshape(-1)
    worn = x[np.isfinite(x)]
    if np.any(worn < 0):
        raise InputError("daily_step_stats", "steps_per_min", "negative steps in a minute")
    walking = worn[worn >= WALKING_MIN_SPM]
    top = np.sort(worn)[::-1][:PEAK_MINUTES]
    return DailyStepStats(
        steps=float(worn.sum()),
        wear_min=int(worn.size),
        walking_min=int(walking.size),
        active_min=int(np.count_nonzero(worn >= MODERATE_MIN_SPM)),
        peak1_spm=float(worn.max()) if worn.size else float("nan"),
        peak30_spm=float(top.mean()) if top.size >= PEAK_MINUTES else float("nan"),
        p95_spm=float(np.percentile(walking, 95)) if walking.size else float("nan"),
    )
