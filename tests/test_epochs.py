"""Continuous minute series and daily cadence figures, against hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from devices.errors import InputError
from features.epochs import NS_PER_MIN, daily_step_stats, minute_series

M = NS_PER_MIN


def test_empty_sources_give_an_empty_series() -> None:
    s = minute_series([], [], [])
    assert len(s) == 0


def test_series_is_continuous_and_unworn_minutes_are_nan() -> None:
    # raw minutes 10 and 13 worn (7 and 0 steps), minute 14 recorded but not worn
    s = minute_series([10 * M, 13 * M, 14 * M], [7, 0, 3], [True, True, False])
    assert s.minute_ns.tolist() == [10 * M, 11 * M, 12 * M, 13 * M, 14 * M]
    assert s.source.tolist() == ["raw", "", "", "raw", ""]
    assert s.wear.tolist() == [True, False, False, True, False]
    got = s.steps.tolist()
    assert got[0] == 7 and got[3] == 0
    assert all(math.isnan(got[i]) for i in (1, 2, 4))


def test_pedometer_interval_is_spread_by_overlap_and_sums_to_its_steps() -> None:
    # 90 steps from 00:30 to 02:00 (1.5 min): minute 0 holds 30 s, minute 1 holds 60 s
    s = minute_series([], [], [], [30 * 10**9], [2 * M], [90])
    assert s.minute_ns.tolist() == [0, M]
    assert s.steps.tolist() == [30.0, 60.0]
    assert s.source.tolist() == ["pedometer", "pedometer"]


def test_long_pedometer_interval_is_not_wear() -> None:
    s = minute_series([], [], [], [0, 40 * M], [40 * M, 41 * M], [400, 20], max_interval_min=30)
    assert s.minute_ns.tolist() == [40 * M]  # the 40-min silence is dropped, not spread
    assert s.steps.tolist() == [20.0]


def test_accelerometer_wins_over_pedometer_in_a_worn_minute() -> None:
    s = minute_series([1 * M], [50], [True], [0], [3 * M], [30])
    assert s.steps.tolist() == [10.0, 50.0, 10.0]
    assert s.source.tolist() == ["pedometer", "raw", "pedometer"]


def test_minute_times_must_be_whole_minutes() -> None:
    with pytest.raises(InputError, match="whole UTC minutes"):
        minute_series([M + 1], [1], [True])


def test_lengths_must_agree() -> None:
    with pytest.raises(InputError, match="differ in length"):
        minute_series([M], [1, 2], [True])


def test_daily_figures_by_hand() -> None:
    # 600 worn minutes: 540 at 0, 20 at 64, 25 at 104, 15 at 120; 840 minutes not worn
    day = np.full(1440, np.nan)
    day[:540] = 0
    day[540:560] = 64
    day[560:585] = 104
    day[585:600] = 120
    d = daily_step_stats(day)
    assert d.steps == 20 * 64 + 25 * 104 + 15 * 120 == 5680
    assert d.wear_min == 600
    assert d.walking_min == 60  # >= 60 steps/min
    assert d.active_min == 40  # >= 100 steps/min
    assert d.peak1_spm == 120
    assert d.peak30_spm == pytest.approx((15 * 120 + 15 * 104) / 30)  # 112.0
    # 95th percentile of the 60 walking minutes (linear interpolation, numpy's default):
    # sorted ranks 0..59, position 0.95 * 59 = 56.05 -> ranks 56 and 57 are both 120
    assert d.p95_spm == 120


def test_day_without_walking_or_30_worn_minutes() -> None:
    d = daily_step_stats([10.0] * 20 + [np.nan] * 100)
    assert (d.steps, d.wear_min, d.walking_min, d.active_min) == (200.0, 20, 0, 0)
    assert math.isnan(d.peak30_spm) and math.isnan(d.p95_spm)
    assert d.peak1_spm == 10


def test_unworn_day_has_no_figures() -> None:
    d = daily_step_stats([np.nan] * 1440)
    assert (d.steps, d.wear_min) == (0.0, 0)
    assert math.isnan(d.peak1_spm)


def test_negative_steps_are_refused() -> None:
    with pytest.raises(InputError, match="negative steps"):
        daily_step_stats([1.0, -1.0])
