"""Pedometer running totals (BLE or MQTT reports) turned into steps per interval.

Wearables and phones report a cumulative step counter, not steps. This module turns a series of
``(t_ns, total)`` reports into the steps taken between consecutive reports, handling what real
counters do:

* **duplicates** - the same report received twice (same time; a retained MQTT message, a BLE
  notification re-sent) is kept once;
* **out-of-order** reports - sorted by time before differencing;
* **missing** reports - the interval simply spans the gap; steps are conserved, never invented;
* **wrap-around** of a u16 / u32 counter (``wrap_at=2**16`` or ``2**32``): a drop is a wrap when
  the wrapped difference is plausible (at most ``max_rate_hz`` steps per second plus
  ``slack_steps``);
* **reset** after a reboot: any other drop starts a new baseline; the new total is counted as the
  steps taken since the reset (the counter restarts at 0).

Pure function; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from devices.errors import InputError

__all__ = ["IntervalSteps", "totals_to_intervals"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class IntervalSteps:
    """Steps between consecutive pedometer reports.

    Attributes
    ----------
    start_ns, end_ns:
        int64 (M,), interval bounds, UTC ns: the times of two consecutive distinct reports.
    steps:
        int64 (M,), steps taken in ``(start_ns, end_ns]``.
    reset:
        bool (M,), the counter was reset (reboot) in this interval.
    wrapped:
        bool (M,), the counter wrapped around in this interval.
    """

    start_ns: IntArray
    end_ns: IntArray
    steps: IntArray
    reset: BoolArray = field(repr=False)
    wrapped: BoolArray = field(repr=False)

    @property
    def total(self) -> int:
        """Sum of the steps of all intervals."""
        return int(self.steps.sum())


def totals_to_intervals(
    t_ns: npt.ArrayLike,
    totals: npt.ArrayLike,
    *,
    wrap_at: int | None = None,
    max_rate_hz: float = 5.0,
    slack_steps: int = 100,
) -> IntervalSteps:
    """Turn cumulative step totals into steps per interval between reports.

    Parameters
    ----------
    t_ns:
        (N,) int report times, UTC ns, in any order.
    totals:
        (N,) cumulative step counts (non-negative integers, ``< wrap_at`` when given).
    wrap_at:
        Modulus of the device counter (``2**16`` for a u16 field, ``2**32`` for u32), or ``None``
        when the counter never wraps (then every drop is a reset).
    max_rate_hz:
        Highest plausible step rate, steps/s, used to tell a wrap from a reset.
    slack_steps:
        Steps allowed on top of ``max_rate_hz * dt`` when judging a wrap.

    Returns
    -------
    IntervalSteps
        ``M = (number of distinct report times) - 1`` intervals, in time order.

    Raises
    ------
    ValueError (:class:`devices.errors.InputError`)
        Mismatched or non-1-D arrays, negative, non-integer or non-finite totals, totals not
        below ``wrap_at``, or two different totals reported at the same time.

    Notes
    -----
    Reset rule: when the total drops and the drop is not a plausible wrap, the device restarted
    from 0, so the interval's steps are the new total (steps since the reboot). Steps taken
    before the reboot but after the previous report are lost on the device and cannot be
    recovered.

    Examples
    --------
    >>> r = totals_to_intervals([0, 10, 20, 30], [100, 120, 5, 9])
    >>> r.steps.tolist(), r.reset.tolist()
    ([20, 5, 4], [False, True, False])
    """
    t, v = _checked_reports(t_ns, totals, wrap_at)
    t, v = _one_report_per_time(t, v)
    if t.size < 2:
        empty = np.empty(0, dtype=np.int64)
        return IntervalSteps(
            empty, empty.copy(), empty.copy(), np.empty(0, bool), np.empty(0, bool)
        )
    d = np.diff(v)
    dt_s = np.diff(t) / 1e9
    drop = d < 0
    wrapped = np.zeros(d.size, dtype=bool)
    if wrap_at is not None:
        wrapped_d = d + int(wrap_at)
        wrapped = drop & (wrapped_d <= max_rate_hz * dt_s + slack_steps)
    reset = drop & ~wrapped
    steps = np.where(wrapped, d + (int(wrap_at) if wrap_at is not None else 0), d)
    steps = np.where(reset, v[1:], steps).astype(np.int64)
    return IntervalSteps(t[:-1], t[1:], steps, reset, wrapped)


def _checked_reports(
    t_ns: npt.ArrayLike, totals: npt.ArrayLike, wrap_at: int | None
) -> tuple[IntArray, IntArray]:
    """Report times (int ns) and totals as int64, after every input check of the function."""
    t = np.asarray(t_ns)
    v = np.asarray(totals)
    if t.ndim != 1 or v.ndim != 1 or t.shape != v.shape:
        raise InputError("pedometer", "shape", f"wrong shape: t_ns {t.shape}, totals {v.shape}")
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise InputError("pedometer", "t_ns", f"must be integer ns, got dtype {t.dtype}")
    if v.size:
        _check_totals(v)
    if wrap_at is not None and (isinstance(wrap_at, bool) or int(wrap_at) < 2):
        raise InputError("pedometer", "wrap_at", f"must be None or an integer >= 2, got {wrap_at}")
    if wrap_at is not None and v.size and np.max(v) >= wrap_at:
        raise InputError("pedometer", "totals", f"total {int(np.max(v))} >= wrap_at {wrap_at}")
    return t.astype(np.int64), v.astype(np.int64)


def _check_totals(v: np.ndarray) -> None:
    if not (np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)):
        raise InputError("pedometer", "totals", f"must be numbers, got dtype {v.dtype}")
    if not np.all(np.isfinite(v)):
        raise InputError("pedometer", "totals", "contains NaN or inf")
    if np.any(v != np.round(v)) or np.any(v < 0):
        raise InputError("pedometer", "totals", "totals must be non-negative integers")


def _one_report_per_time(t: IntArray, v: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted by time (stable: out-of-order reports), duplicates kept once; two different
    totals at one time are an InputError."""
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if t.size < 2:
        return t, v
    same = np.diff(t) == 0
    conflict = same & (np.diff(v) != 0)
    if np.any(conflict):
        i = int(np.argmax(conflict))
        raise InputError(
            "pedometer",
            f"t_ns={int(t[i])}",
            f"two different totals ({int(v[i])}, {int(v[i + 1])}) at the same time",
        )
    keep = np.r_[True, ~same]
    return t[keep], v[keep]
