"""Sample frames with known contents."""

from __future__ import annotations

import numpy as np

from devices.frame import Frame, make_frame

T0 = 1_794_000_000_000_000_000
"""A UTC instant in ns (2026-11-06 21:20 UTC): the first sample of :func:`accel_frame` with ``seq=0``."""


def accel_frame(seq: int, n: int = 50, subject: str = "P001") -> Frame:
    t = T0 + seq * n * 20_000_000 + np.arange(n) * 20_000_000
    vals = np.column_stack([np.full(n, seq * 1.0), np.arange(n) / 100.0, np.ones(n)])
    return make_frame(subject, "imu-1", "accel", t, vals, fs_hz=50.0, seq=seq)
