"""Tests of devices.pedometer.totals_to_intervals: one parameter row per counter behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from devices.pedometer import totals_to_intervals

S = 1_000_000_000  # ns per second

CASES = [
    # id, t_s, totals, wrap_at, expected (start_s, end_s, steps) rows, resets, wraps
    pytest.param([], [], None, [], [], [], id="empty"),
    pytest.param([0], [500], None, [], [], [], id="single-report"),
    pytest.param(
        [0, 60, 120],
        [1000, 1050, 1130],
        None,
        [(0, 60, 50), (60, 120, 80)],
        [False, False],
        [False, False],
        id="plain",
    ),
    pytest.param(
        [0, 60, 60, 120],
        [1000, 1050, 1050, 1130],
        None,
        [(0, 60, 50), (60, 120, 80)],
        [False, False],
        [False, False],
        id="duplicate",
    ),
    pytest.param(
        [120, 0, 60],
        [1130, 1000, 1050],
        None,
        [(0, 60, 50), (60, 120, 80)],
        [False, False],
        [False, False],
        id="out-of-order",
    ),
    pytest.param(
        [0, 60, 3600],
        [1000, 1050, 4050],
        None,
        [(0, 60, 50), (60, 3600, 3000)],
        [False, False],
        [False, False],
        id="missing-reports",
    ),
    pytest.param(
        [0, 60, 120, 180],
        [1000, 1050, 30, 70],
        None,
        [(0, 60, 50), (60, 120, 30), (120, 180, 40)],
        [False, True, False],
        [False, False, False],
        id="reboot-reset",
    ),
    pytest.param(
        [0, 60, 120],
        [1000, 1050, 0],
        None,
        [(0, 60, 50), (60, 120, 0)],
        [False, True],
        [False, False],
        id="reset-to-zero",
    ),
    pytest.param(
        [0, 10, 20],
        [65500, 65530, 14],
        2**16,
        [(0, 10, 30), (10, 20, 20)],
        [False, False],
        [False, True],
        id="u16-wrap",
    ),
    pytest.param(
        [0, 10],
        [2**32 - 5, 5],
        2**32,
        [(0, 10, 10)],
        [False],
        [True],
        id="u32-wrap",
    ),
    pytest.param(
        # a drop from 30000 to 10 in 1 s would be 35546 steps if it wrapped: a reset
        [0, 1],
        [30000, 10],
        2**16,
        [(0, 1, 10)],
        [True],
        [False],
        id="u16-drop-is-reset",
    ),
    pytest.param(
        [0, 10, 20, 20, 30, 40],
        [65530, 4, 8, 8, 3, 9],
        2**16,
        [(0, 10, 10), (10, 20, 4), (20, 30, 3), (30, 40, 6)],
        [False, False, True, False],
        [True, False, False, False],
        id="wrap-dup-reset",
    ),
]


@pytest.mark.parametrize(("t_s", "totals", "wrap_at", "rows", "resets", "wraps"), CASES)
def test_totals_to_intervals(
    t_s: list[int],
    totals: list[int],
    wrap_at: int | None,
    rows: list[tuple[int, int, int]],
    resets: list[bool],
    wraps: list[bool],
) -> None:
    res = totals_to_intervals(
        np.asarray(t_s, dtype=np.int64) * S, np.asarray(totals, dtype=np.int64), wrap_at=wrap_at
    )
    got = list(
        zip(
            (res.start_ns // S).tolist(),
            (res.end_ns // S).tolist(),
            res.steps.tolist(),
            strict=True,
        )
    )
    assert got == rows
    assert res.reset.tolist() == resets
    assert res.wrapped.tolist() == wraps
    assert res.total == sum(r[2] for r in rows)
    assert res.steps.dtype == np.int64


@pytest.mark.parametrize(
    ("t_ns", "totals", "wrap_at", "match"),
    [
        ([0, 1], [1, 2, 3], None, "wrong shape"),
        ([[0, 1]], [[1, 2]], None, "wrong shape"),
        ([0, 1], [5, -1], None, "non-negative integers"),
        ([0, 1], [5.5, 6], None, "non-negative integers"),
        ([0, 1], [5, float("nan")], None, "NaN or inf"),
        ([0.5, 1.0], [5, 6], None, "integer ns"),
        ([0, 1], [5, 70000], 2**16, ">= wrap_at"),
        ([0, 0], [5, 6], None, "two different totals"),
        ([0, 1], [5, 6], 1, "wrap_at"),
    ],
)
def test_bad_input(t_ns: list[float], totals: list[float], wrap_at: int | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        totals_to_intervals(np.asarray(t_ns), np.asarray(totals), wrap_at=wrap_at)
