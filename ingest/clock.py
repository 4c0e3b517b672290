"""Device-to-host clock alignment: online estimate of offset and drift.

A device timestamps its samples with its own clock; the host stamps each notification when it
arrives. Every arrival gives a pair (device time ``d`` of the newest sample, host time ``h``)
with ``h - d = offset(d) + delay`` where the delivery ``delay`` is positive and random (radio
retries, connection intervals, D-Bus). The true offset line therefore runs *under* all the
points, and the best line is the one that lies under every point and is as close to them as
possible: the linear-programming fit of Moon, Skelly & Towsley (1999), whose solution is an
edge of the lower convex hull of the points, namely the edge spanning the mean device time.

Reference: S. B. Moon, P. Skelly, D. Towsley, "Estimation and removal of clock skew from
network delay measurements", Proc. IEEE INFOCOM 1999, pp. 227-234, doi:10.1109/INFCOM.1999.749287.

The mapped time carries the minimum transport delay as a constant bias (it cannot be told
apart from offset from one-way measurements); spacing and drift are corrected. Points are kept
as exact integers (ns) relative to the first pair, so ns-since-2000 device clocks lose no
precision. A device time that jumps back by more than ``reset_after_ns`` is a clock reset
(Polar sensors reset time at shutdown): the estimator starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class ClockModel:
    """``host_ns = device_ns + offset_ns + slope * (device_ns - ref_device_ns)``.

    ``drift_ppm`` is the device clock's rate error in parts per million relative to the host
    (positive: the device clock runs fast).
    """

    ref_device_ns: int
    offset_ns: int
    slope: float
    n_points: int

    @property
    def drift_ppm(self) -> float:
        """Device clock rate error, ppm (positive = device fast)."""
        return (1.0 / (1.0 + self.slope) - 1.0) * 1e6

    @property
    def drift_ms_per_min(self) -> float:
        """Same as :attr:`drift_ppm` in ms of device-clock error per minute of host time."""
        return self.drift_ppm * 60.0 * 1e-6 * 1e3


class ClockEstimator:
    """Online lower-hull (Moon et al. 1999) estimator of device clock offset and drift.

    Parameters
    ----------
    reset_after_ns:
        A device time this much earlier than the newest one seen is a clock reset (ns).
    min_span_ns:
        Drift is reported as 0 until the points span this much device time (ns); before that,
        only the offset is estimated (as the minimum of ``h - d``).
    """

    def __init__(
        self, *, reset_after_ns: int = 1_000_000_000, min_span_ns: int = 10_000_000_000
    ) -> None:
        self.reset_after_ns = int(reset_after_ns)
        self.min_span_ns = int(min_span_ns)
        self.resets = 0
        self._clear()

    def _clear(self) -> None:
        self._x0: int | None = None
        self._y0 = 0
        self._hull: list[tuple[int, int]] = []
        self._n = 0
        self._sum_x = 0
        self._last_x = 0
        self._model: ClockModel | None = None

    @property
    def n_points(self) -> int:
        """Pairs used since the last reset."""
        return self._n

    def add(self, device_ns: int, host_ns: int) -> None:
        """Add one (device time, host receive time) pair, both in ns."""
        d, h = int(device_ns), int(host_ns)
        if self._x0 is None:
            self._x0, self._y0 = d, h - d
        x, y = d - self._x0, (h - d) - self._y0
        if self._n and self._last_x - x > self.reset_after_ns:
            self.resets += 1
            self._clear()
            self.add(device_ns, host_ns)
            return
        # A late, out-of-order pair (x < last) is still a valid upper bound on the offset.
        self._last_x = max(self._last_x, x)
        self._n += 1
        self._sum_x += x
        self._insert((x, y))
        self._model = None

    def _insert(self, p: tuple[int, int]) -> None:
        hull = self._hull
        if hull and p[0] < hull[-1][0]:
            # Out of order (rare): rebuild the hull from scratch with the new point.
            pts = sorted([*hull, p])
            self._hull = []
            for q in pts:
                self._insert(q)
            return
        if hull and p[0] == hull[-1][0]:
            if p[1] >= hull[-1][1]:
                return
            hull.pop()
        while len(hull) >= 2:
            (ox, oy), (ax, ay) = hull[-2], hull[-1]
            cross = (ax - ox) * (p[1] - oy) - (ay - oy) * (p[0] - ox)
            if cross > 0:
                break
            hull.pop()
        hull.append(p)

    def model(self) -> ClockModel | None:
        """The current :class:`ClockModel`, or None before the first pair."""
        if self._x0 is None:
            return None
        if self._model is not None:
            return self._model
        hull = self._hull
        span = hull[-1][0] - hull[0][0]
        if len(hull) < 2 or span < self.min_span_ns:
            y_min = min(y for _, y in hull)
            m = ClockModel(self._x0, self._y0 + y_min, 0.0, self._n)
        else:
            mean_x = self._sum_x / self._n
            k = 0
            while k < len(hull) - 2 and hull[k + 1][0] < mean_x:
                k += 1
            (x1, y1), (x2, y2) = hull[k], hull[k + 1]
            slope = (y2 - y1) / (x2 - x1)
            # Offset at the reference x = 0 (the first device time).
            m = ClockModel(self._x0, self._y0 + round(y1 - slope * x1), slope, self._n)
        self._model = m
        return m

    def to_host(self, device_ns: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Map device times (ns) to host UTC times (ns) with the current model."""
        d = np.asarray(device_ns, dtype=np.int64)
        m = self.model()
        if m is None:
            raise ValueError("no clock pairs yet: call add() first")
        rel = (d - np.int64(m.ref_device_ns)).astype(np.float64)
        corr = np.round(m.slope * rel).astype(np.int64)
        return d + np.int64(m.offset_ns) + corr

    def align(
        self, device_t_ns: npt.NDArray[np.int64], host_t_ns: int, *, learn: bool = True
    ) -> npt.NDArray[np.int64]:
        """:data:`devices.registry.Align` hook: learn from the newest sample, then map all.

        With ``learn=False`` the pair is only mapped (used while a fresh connection settles),
        unless there is no model yet.
        """
        d = np.asarray(device_t_ns, dtype=np.int64)
        if learn or self._x0 is None:
            self.add(int(d[-1]), int(host_t_ns))
        return self.to_host(d)
