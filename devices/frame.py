"""The typed sample frame: one block of samples from one stream of one device.

Every decoder in :mod:`devices` produces frames, every collector in :mod:`ingest` stores them,
and every feature in :mod:`features` reads the arrays they carry. A frame is validated once, on
construction, and is immutable afterwards (its arrays are made read-only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.errors import FrameError

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
"""Subject and device ids: 1-64 characters, letters, digits and ``_ . : -``."""

MAX_FRAME_SAMPLES = 1_000_000
MIN_FS_HZ = 0.001
MAX_FS_HZ = 10_000.0
# 2000-01-01 and 2100-01-01 in UTC ns: anything outside is a clock that was never set.
MIN_T_NS = 946_684_800_000_000_000
MAX_T_NS = 4_102_444_800_000_000_000


class StreamKind(StrEnum):
    """What a frame's values measure. The value is used in topics, tables and exports."""

    ACCEL = "accel"
    GYRO = "gyro"
    MAG = "mag"
    ORIENTATION = "orientation"
    HEART_RATE = "heart_rate"
    RR_INTERVAL = "rr_interval"
    STEP_TOTAL = "step_total"
    CADENCE = "cadence"
    SPEED = "speed"
    DISTANCE = "distance"
    CRANK = "crank"
    WHEEL = "wheel"
    BATTERY = "battery"
    SYMPTOM = "symptom"


STREAM_SPECS: dict[StreamKind, tuple[int, tuple[str, ...]]] = {
    StreamKind.ACCEL: (3, ("g", "g", "g")),
    StreamKind.GYRO: (3, ("deg/s", "deg/s", "deg/s")),
    StreamKind.MAG: (3, ("uT", "uT", "uT")),
    StreamKind.ORIENTATION: (3, ("deg", "deg", "deg")),
    StreamKind.HEART_RATE: (1, ("bpm",)),
    StreamKind.RR_INTERVAL: (1, ("s",)),
    StreamKind.STEP_TOTAL: (1, ("steps",)),
    StreamKind.CADENCE: (1, ("1/min",)),
    StreamKind.SPEED: (1, ("m/s",)),
    StreamKind.DISTANCE: (1, ("m",)),
    StreamKind.CRANK: (2, ("revolutions", "s")),
    StreamKind.WHEEL: (2, ("revolutions", "s")),
    StreamKind.BATTERY: (1, ("%",)),
    StreamKind.SYMPTOM: (1, ("score_0_10",)),
}
"""Number of value columns and their units for each stream kind."""


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise FrameError(
            "frame", name, f"must be 1-64 characters of [A-Za-z0-9_.:-], got {value!r}"
        )
    return value


def _checked_times(t_ns: object) -> npt.NDArray[np.int64]:
    """A private int64 copy of sample times (UTC ns): 1-D, non-empty, 2000-2100, sorted."""
    t = np.asarray(t_ns)
    if t.ndim != 1 or t.size == 0:
        raise FrameError("frame", "t_ns", f"must be a non-empty 1-D array, got shape {t.shape}")
    if t.size > MAX_FRAME_SAMPLES:
        raise FrameError("frame", "t_ns", f"{t.size} samples exceeds {MAX_FRAME_SAMPLES}")
    if not np.issubdtype(t.dtype, np.integer):
        raise FrameError("frame", "t_ns", f"must be integer nanoseconds, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=True)
    if t[0] < MIN_T_NS or t[-1] > MAX_T_NS:
        raise FrameError("frame", "t_ns", "timestamps outside 2000-2100 UTC (clock not set?)")
    if t.size > 1 and np.any(np.diff(t) < 0):
        i = int(np.argmax(np.diff(t) < 0))
        raise FrameError("frame", f"t_ns[{i + 1}]", "timestamps must be non-decreasing")
    return t


def _checked_values(values: object, n: int) -> npt.NDArray[np.float64]:
    """A private float64 (n, k) copy of sample values: real and finite."""
    v = np.asarray(values)
    if v.ndim == 1:
        v = v.reshape(-1, 1)
    if v.ndim != 2 or v.shape[0] != n:
        raise FrameError(
            "frame", "values", f"must have shape ({n}, k), got {np.asarray(values).shape}"
        )
    if not (np.issubdtype(v.dtype, np.number) and not np.issubdtype(v.dtype, np.complexfloating)):
        raise FrameError("frame", "values", f"must be real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64, copy=True)
    if not np.all(np.isfinite(v)):
        raise FrameError("frame", "values", "contains NaN or infinite samples")
    return v


def _checked_layout(stream: StreamKind, v: npt.NDArray[np.float64], units: Any) -> tuple[str, ...]:
    """The units as a tuple, after checking columns and units against :data:`STREAM_SPECS`."""
    k, expected_units = STREAM_SPECS[stream]
    if v.shape[1] != k:
        raise FrameError("frame", "values", f"{stream} needs {k} columns, got {v.shape[1]}")
    got = tuple(units)
    if got != expected_units:
        raise FrameError("frame", "units", f"{stream} needs units {expected_units}, got {got}")
    return got


def _checked_fs(fs_hz: float) -> float:
    fs = float(fs_hz)
    if not (np.isfinite(fs) and MIN_FS_HZ <= fs <= MAX_FS_HZ):
        raise FrameError("frame", "fs_hz", f"must be in [{MIN_FS_HZ}, {MAX_FS_HZ}] Hz, got {fs}")
    return fs


def _checked_device_times(device_t_ns: object, t: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A read-only int64 copy of device-clock times (ns), one per sample time ``t``."""
    d = np.asarray(device_t_ns)
    if d.shape != t.shape or not np.issubdtype(d.dtype, np.integer):
        raise FrameError("frame", "device_t_ns", f"must be int64 of shape {t.shape}")
    d = d.astype(np.int64, copy=True)
    d.flags.writeable = False
    return d


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """A block of N samples of one stream.

    Attributes
    ----------
    subject:
        Pseudonymous subject id (never a name or a device serial).
    device:
        Device id (an address, serial or app-assigned id; exports replace it).
    stream:
        :class:`StreamKind` of the values.
    t_ns:
        int64 array (N,), sample times in UTC nanoseconds since the Unix epoch, non-decreasing.
        For devices with their own clock this is the *aligned* time (device time mapped to UTC).
    values:
        float64 array (N, k), in the units given by ``units``.
    units:
        One unit string per column, as in :data:`STREAM_SPECS`.
    fs_hz:
        Nominal sample rate in Hz, or ``None`` for irregular (event) streams.
    seq:
        Frame sequence number assigned by the device or publisher (>= 0); with ``device``,
        ``stream`` and the first timestamp it identifies the frame for deduplication.
    device_t_ns:
        Optional int64 array (N,) of raw device-clock times in ns (kept beside the aligned time).
    meta:
        Small JSON-serialisable dict (decoder name, firmware, flags). Must not hold personal data.
    """

    subject: str
    device: str
    stream: StreamKind
    t_ns: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    units: tuple[str, ...]
    fs_hz: float | None
    seq: int
    device_t_ns: npt.NDArray[np.int64] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_id("subject", self.subject)
        _check_id("device", self.device)
        try:
            stream = StreamKind(self.stream)
        except ValueError:
            raise FrameError("frame", "stream", f"unknown stream kind {self.stream!r}") from None
        object.__setattr__(self, "stream", stream)
        t = _checked_times(self.t_ns)
        v = _checked_values(self.values, t.size)
        object.__setattr__(self, "units", _checked_layout(stream, v, self.units))
        if self.fs_hz is not None:
            object.__setattr__(self, "fs_hz", _checked_fs(self.fs_hz))
        if isinstance(self.seq, bool) or not isinstance(self.seq, int | np.integer) or self.seq < 0:
            raise FrameError("frame", "seq", f"must be a non-negative integer, got {self.seq!r}")
        object.__setattr__(self, "seq", int(self.seq))
        if self.device_t_ns is not None:
            object.__setattr__(self, "device_t_ns", _checked_device_times(self.device_t_ns, t))
        if not isinstance(self.meta, dict):
            raise FrameError("frame", "meta", "must be a dict")
        t.flags.writeable = False
        v.flags.writeable = False
        object.__setattr__(self, "t_ns", t)
        object.__setattr__(self, "values", v)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.t_ns.size)

    @property
    def start_ns(self) -> int:
        """First sample time, UTC ns."""
        return int(self.t_ns[0])

    @property
    def end_ns(self) -> int:
        """Last sample time, UTC ns."""
        return int(self.t_ns[-1])

    def key(self) -> tuple[str, str, str, int, int]:
        """Identity used for idempotent storage: (subject, device, stream, seq, start_ns)."""
        return (self.subject, self.device, self.stream.value, self.seq, self.start_ns)

    def same_content(self, other: Frame) -> bool:
        """True when both frames carry identical identity, times and values."""
        return (
            self.key() == other.key()
            and np.array_equal(self.t_ns, other.t_ns)
            and np.array_equal(self.values, other.values)
            and self.units == other.units
            and self.fs_hz == other.fs_hz
        )


def make_frame(
    subject: str,
    device: str,
    stream: StreamKind | str,
    t_ns: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    fs_hz: float | None,
    seq: int,
    device_t_ns: npt.ArrayLike | None = None,
    meta: dict[str, Any] | None = None,
) -> Frame:
    """Build a :class:`Frame` with the standard units of ``stream`` (see :data:`STREAM_SPECS`)."""
    try:
        kind = StreamKind(stream)
    except ValueError:
        raise FrameError("frame", "stream", f"unknown stream kind {stream!r}") from None
    return Frame(
        subject=subject,
        device=device,
        stream=kind,
        t_ns=np.asarray(t_ns),
        values=np.asarray(values),
        units=STREAM_SPECS[kind][1],
        fs_hz=fs_hz,
        seq=seq,
        device_t_ns=None if device_t_ns is None else np.asarray(device_t_ns),
        meta=dict(meta or {}),
    )
