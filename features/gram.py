"""Gram matrices of many short three-channel windows at once (the scatter matrices whose
eigenvectors give each window's principal axis).

:func:`gram3` returns exactly (bit for bit) what ``np.einsum("wit,wjt->wij", w, w)`` (channels
first) or ``np.einsum("wti,wtj->wij", w, w)`` (channels last) returns, several times faster:
``einsum`` with three operand axes and a reduction runs a generic strided loop, while one
``einsum("wt,wt->w")`` per channel pair runs numpy's two-operand sum-of-products loop over the
time axis, which accumulates the products of each window in the same order; the matrix is
symmetric, so the six pairs ``i <= j`` are computed and mirrored. Checked against ``einsum``
bit for bit in ``tests/test_speed_exact.py``; the finder's and the repetition counter's results are
therefore unchanged.

Reference: NumPy, ``numpy.einsum``,
https://numpy.org/doc/stable/reference/generated/numpy.einsum.html.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["gram3"]

Array = NDArray[np.float64]


def gram3(w: Array, channels_last: bool = False) -> Array:
    """Per-window Gram matrices ``G[k, i, j] = sum_t w[k, i, t] * w[k, j, t]``.

    ``w`` is (W, 3, T) (``channels_last=False``) or (W, T, 3) (``channels_last=True``), in any
    unit u (g for the accelerometer); the result is (W, 3, 3) in u^2 (float64).

    >>> w = np.arange(12.0).reshape(1, 3, 4)
    >>> bool(np.array_equal(gram3(w), np.einsum("wit,wjt->wij", w, w)))
    True
    """
    out = np.empty((w.shape[0], 3, 3), dtype=np.float64)
    for i in range(3):
        a = w[:, :, i] if channels_last else w[:, i]
        for j in range(i, 3):
            b = w[:, :, j] if channels_last else w[:, j]
            out[:, i, j] = np.einsum("wt,wt->w", a, b)
            if j != i:
                out[:, j, i] = out[:, i, j]
    return out
