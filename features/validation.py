"""Input checks shared by the feature modules (steps, activity, repetitions).

Every check raises :class:`devices.errors.InputError` (a ``ValueError``) whose message names
what was wrong, so a command can print it on one line and a service can dead-letter it.

Sample-rate ranges, one per purpose (both stated here, nowhere else):

- :data:`STEP_FS_RANGE_HZ` = 10 to 10 000 Hz for step counting and activity: steps reach
  3-4 Hz, so below 10 Hz the step band-pass (up to 3.5 Hz) is meaningless.
- :data:`REP_FS_RANGE_HZ` = 5 to 2000 Hz for repetition counting: repetitions last 0.8 s or
  more (below 1.25 Hz), so 5 Hz still samples every repetition several times per cycle; the
  counter is evaluated from 12.5 Hz (MetaMotion accelerometer) to 200 Hz.

Accelerometer unit (g or m/s^2): judged from the gravity level *at rest*, see
:func:`gravity_at_rest_g`. The magnitude during movement is not used, so real high-g
movement (jumps at the wrist peak above 4 g) is accepted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from devices.errors import InputError

__all__ = [
    "MAX_REST_GRAVITY_G",
    "REP_FS_RANGE_HZ",
    "STEP_FS_RANGE_HZ",
    "check_accel_g",
    "check_fs",
    "check_time",
    "check_xyz",
    "gravity_at_rest_g",
]

Array = NDArray[np.float64]

STEP_FS_RANGE_HZ = (10.0, 10_000.0)
"""Accepted sample rates for step counting and activity, Hz."""
REP_FS_RANGE_HZ = (5.0, 2000.0)
"""Accepted sample rates for repetition counting, Hz."""
MAX_REST_GRAVITY_G = 4.0
"""Largest plausible gravity level at rest in g. Gravity is 1 g (9.81 m/s^2 in m/s^2), or about
0 for a gravity-free (linear) accelerometer; a rest level above 4 means the data is in m/s^2."""
REST_WINDOW_S = 1.0
"""Window for the rest-level estimate, seconds."""
REST_QUANTILE = 0.1
"""Share of the quietest windows whose gravity level is used."""


def check_fs(
    fs_hz: Any, name: str = "fs_hz", fs_range_hz: tuple[float, float] = REP_FS_RANGE_HZ
) -> float:
    """Return a sample rate (Hz) as float, or raise :class:`InputError`.

    ``fs_range_hz`` is :data:`REP_FS_RANGE_HZ` or :data:`STEP_FS_RANGE_HZ` (Hz).

    >>> check_fs(12.5)
    12.5
    """
    if isinstance(fs_hz, bool) or not isinstance(fs_hz, int | float | np.integer | np.floating):
        raise InputError(
            name, "", f"sample rate must be a number in Hz, got {type(fs_hz).__name__}"
        )
    fs = float(fs_hz)
    lo, hi = fs_range_hz
    if not (math.isfinite(fs) and lo <= fs <= hi):
        raise InputError(
            name, "", f"absurd sample rate {fs!r} Hz: sample rate must be within [{lo}, {hi}] Hz"
        )
    return fs


def check_xyz(
    x: Any,
    name: str,
    unit: str,
    *,
    allow_nan: bool = False,
    allow_empty: bool = True,
    keep_float32: bool = False,
    nan_hint: str = "",
) -> NDArray[np.floating[Any]]:
    """Return an (N, 3) array of real numbers (float64, or float32 if given and kept).

    Raises :class:`InputError` on another shape, non-numbers, zero rows (unless
    ``allow_empty``), NaN or infinity (unless ``allow_nan``; the message names the row).
    ``unit`` is only used in the messages (e.g. ``"g"``, ``"deg/s"``); ``nan_hint`` is appended
    to the NaN message (e.g. how to pass data with gaps).
    """
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputError(name, "", f"wrong shape: expected shape (N, 3) in {unit}, got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(name, "dtype", f"must be real numbers, got dtype {arr.dtype}")
    if arr.shape[0] == 0 and not allow_empty:
        raise InputError(name, "shape", "zero length: no samples")
    if not (keep_float32 and arr.dtype == np.float32):
        arr = arr.astype(np.float64, copy=False)
    if not allow_nan and not np.isfinite(arr).all():  # one pass; the row only when needed
        bad = ~np.all(np.isfinite(arr), axis=1)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(name, f"row {row}", "contains NaN or inf values" + nan_hint)
    return arr


def gravity_at_rest_g(accel: Array, fs_hz: float) -> float:
    """Gravity level at rest, in the unit of ``accel`` (g for g data).

    The recording is cut into :data:`REST_WINDOW_S` windows; the quietest
    :data:`REST_QUANTILE` of them (lowest standard deviation of the magnitude) are the rest,
    and the median of their mean-vector norms is the gravity level. The mean vector over a
    window is the gravity vector whatever the movement, so the estimate is about 1 for g data,
    9.81 for m/s^2, and about 0 for a gravity-free (linear) accelerometer. Recordings shorter
    than a window use the norm of the mean vector. NaN rows are ignored.

    >>> gravity_at_rest_g(np.tile([0.0, 0.6, 0.8], (200, 1)), 50.0)
    1.0
    """
    # no copy (and no per-row pass) for a recording without NaN
    a = accel if np.isfinite(accel).all() else accel[np.all(np.isfinite(accel), axis=1)]
    w = max(1, round(REST_WINDOW_S * fs_hz))
    n_win = a.shape[0] // w
    if n_win < 2:
        return float(np.linalg.norm(a.mean(axis=0))) if a.shape[0] else 0.0
    blocks = a[: n_win * w].reshape(n_win, w, 3)
    spread = np.linalg.norm(blocks, axis=2).std(axis=1)
    level = np.linalg.norm(blocks.mean(axis=1), axis=1)
    k = max(1, math.ceil(REST_QUANTILE * n_win))
    quiet = np.argsort(spread, kind="stable")[:k]
    return float(np.median(level[quiet]))


def check_accel_g(x: Any, fs_hz: float, name: str = "accel_g") -> Array:
    """Validate an accelerometer in g: shape (N, 3), finite, and not in m/s^2.

    The unit is judged from the gravity level at rest (:func:`gravity_at_rest_g`): above
    :data:`MAX_REST_GRAVITY_G` the data is refused as m/s^2. ``fs_hz`` in Hz.
    """
    arr = np.asarray(check_xyz(x, name, "g"), dtype=np.float64)
    if arr.shape[0]:
        rest = gravity_at_rest_g(arr, fs_hz)
        if rest > MAX_REST_GRAVITY_G:
            raise InputError(
                name,
                "",
                f"gravity level at rest {rest:.1f} looks like m/s^2; convert to g (/ 9.80665)",
            )
    return arr


def check_time(t_s: Any, n: int, fs_hz: float) -> Array:
    """Validate sample times (s): length ``n``, finite, strictly increasing, and a median
    interval within 5% of ``1 / fs_hz`` (Hz)."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1 or t.shape[0] != n:
        raise InputError("t_s", "", f"expected shape ({n},) to match accel_g, got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise InputError("t_s", "", "contains NaN or infinite values")
    if n >= 2:
        dt = np.diff(t)
        if np.any(dt <= 0):
            bad = int(np.flatnonzero(dt <= 0)[0])
            raise InputError("t_s", f"index {bad + 1}", "timestamps must be strictly increasing")
        med = float(np.median(dt))
        if abs(med * fs_hz - 1.0) > 0.05:
            raise InputError(
                "t_s", "", f"median sample interval {med:.4g} s does not match fs_hz={fs_hz} Hz"
            )
    return t
