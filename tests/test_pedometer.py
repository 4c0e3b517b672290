"""Tests of devices.pedometer.totals_to_intervals: one parameter row per counter behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from devices.pedometer import totals_to_intervals

S = 1_000_000_000  # ns per second


def case(
    case_id: str,
    t_s: list[int],
    totals: list[int],
    rows: list[tuple[int, int, int]],
    *,
    wrap_at: int | None = None,
    resets: tuple[int, ...] = (),
    wraps: tuple[int, ...] = (),
) -> object:
    """One parameter row; ``resets`` and ``wraps`` name the expected rows (by index) that
    follow a counter reset or a wrap, every other row being neither."""
    reset = [i in resets for i in range(len(rows))]
    wrapped = [i in wraps for i in range(len(rows))]
    return pytest.param(t_s, totals, wrap_at, rows, reset, wrapped, id=case_id)


CASES = [
    # id, t_s, totals, expected (start_s, end_s, steps) rows; wrap_at; the rows that are
    # counter resets and the rows where the counter wrapped
    case("empty", [], [], []),
    case("single-report", [0], [500], []),
    case("plain", [0, 60, 120], [1000, 1050, 1130], [(0, 60, 50), (60, 120, 80)]),
    case("duplicate", [0, 60, 60, 120], [1000, 1050, 1050, 1130], [(0, 60, 50), (60, 120, 80)]),
    case("out-of-order", [120, 0, 60], [1130, 1000, 1050], [(0, 60, 50), (60, 120, 80)]),
    case("missing-reports", [0, 60, 3600], [1000, 1050, 4050], [(0, 60, 50), (60, 3600, 3000)]),
    case(
        "reboot-reset",
        [0, 60, 120, 180],
        [1000, 1050, 30, 70],
        [(0, 60, 50), (60, 120, 30), (120, 180, 40)],
        resets=(1,),
    ),
    case("reset-to-zero", [0, 60, 120], [1000, 1050, 0], [(0, 60, 50), (60, 120, 0)], resets=(1,)),
    case(
        "u16-wrap",
        [0, 10, 20],
        [65500, 65530, 14],
        [(0, 10, 30), (10, 20, 20)],
        wrap_at=2**16,
        wraps=(1,),
    ),
    case("u32-wrap", [0, 10], [2**32 - 5, 5], [(0, 10, 10)], wrap_at=2**32, wraps=(0,)),
    # a drop from 30000 to 10 in 1 s would be 35546 steps if it wrapped: a reset
    case("u16-drop-is-reset", [0, 1], [30000, 10], [(0, 1, 10)], wrap_at=2**16, resets=(0,)),
    case(
        "wrap-dup-reset",
        [0, 10, 20, 20, 30, 40],
        [65530, 4, 8, 8, 3, 9],
        [(0, 10, 10), (10, 20, 4), (20, 30, 3), (30, 40, 6)],
        wrap_at=2**16,
        resets=(2,),
        wraps=(0,),
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
