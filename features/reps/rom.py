"""Range of motion of one repetition, degrees (gyroscope, or gravity direction without one)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

__all__ = ["rom_deg"]


def rom_deg(accel_g: Array, gyro_dps: Array | None, fs_hz: float, start: int, end: int) -> float:
    """Range of motion of one repetition, degrees.

    With a gyroscope: integrate the angular rate projected on the principal rotation axis of
    the repetition (first right-singular vector of the rates) and take max - min. Without one:
    largest angle between the smoothed gravity direction and its direction at the start or at
    the end of the repetition.
    """
    if end <= start:
        return float("nan")
    if gyro_dps is not None:
        g = gyro_dps[start : end + 1]
        _, _, vt = np.linalg.svd(g, full_matrices=False)
        angle = np.cumsum(g @ vt[0]) / fs_hz
        return float(np.ptp(np.concatenate([[0.0], angle])))
    a = accel_g[start : end + 1]
    k = max(1, round(0.25 * fs_hz))
    if a.shape[0] > k:
        kernel = np.ones(k) / k
        a = np.column_stack([np.convolve(a[:, j], kernel, mode="valid") for j in range(3)])
    u = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    cosang = np.clip(np.concatenate([u @ u[0], u @ u[-1]]), -1.0, 1.0)
    return float(np.degrees(np.max(np.arccos(cosang))))
