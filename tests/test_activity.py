"""Tests of features.activity: minutes, bouts, wear and local days, with exact answers."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest

from features.activity import (
    MinuteStats,
    WearResult,
    accel_minute_stats,
    daily_summary,
    detect_wear,
    steps_per_minute,
    walking_bouts,
    wear_from_minute_stats,
)

S = 1_000_000_000
MIN = 60 * S
T0 = 1_774_224_000 * S  # 2026-03-23 00:00:00 UTC (a whole minute)


class TestStepsPerMinute:
    def test_counts_per_utc_minute(self) -> None:
        start = T0 + 30 * S  # recording starts half-way through a minute
        steps = [0.0, 10.0, 29.9, 30.0, 31.0, 95.0]  # minute 0: 3 steps, 1: 2, 2: 1
        res = steps_per_minute(steps, start)
        assert res.minute_start_ns.tolist() == [T0, T0 + MIN, T0 + 2 * MIN]
        assert res.steps.tolist() == [3, 2, 1]

    def test_end_ns_fills_zeros_and_drops_later_steps(self) -> None:
        res = steps_per_minute([1.0, 200.0], T0, end_ns=T0 + 3 * MIN)
        assert res.steps.tolist() == [1, 0, 0]
        assert res.minute_start_ns.tolist() == [T0, T0 + MIN, T0 + 2 * MIN]

    def test_empty(self) -> None:
        res = steps_per_minute([], T0)
        assert res.steps.size == 0 and res.minute_start_ns.size == 0

    @pytest.mark.parametrize(
        ("steps", "end", "match"),
        [
            ([2.0, 1.0], None, "non-monotonic"),
            ([np.nan], None, "NaN or inf"),
            ([-1.0], None, "negative"),
            ([[1.0]], None, "wrong shape"),
            ([1.0], T0, "end_ns must be after"),
        ],
    )
    def test_bad_input(self, steps: list[float], end: int | None, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            steps_per_minute(steps, T0, end_ns=end)


class TestWalkingBouts:
    def test_bouts_split_at_long_gaps(self) -> None:
        a = np.arange(20) * 0.5  # 20 steps, 0.5 s apart: 120 steps/min
        b = 30.0 + np.arange(5) * 0.5  # 5 steps: too short for a bout
        c = 60.0 + np.arange(12) * 0.6  # 12 steps, 100 steps/min
        bouts = walking_bouts(np.r_[a, b, c])
        assert [(x.start_s, x.end_s, x.steps) for x in bouts] == [
            (0.0, 9.5, 20),
            (60.0, pytest.approx(66.6), 12),
        ]
        assert bouts[0].cadence_spm == pytest.approx(120.0)
        assert bouts[1].cadence_spm == pytest.approx(100.0)

    def test_gap_equal_to_limit_stays_in_bout(self) -> None:
        t = np.r_[np.arange(5) * 1.0, 4.0 + 3.0 + np.arange(5) * 1.0]
        assert [x.steps for x in walking_bouts(t, min_steps=5, max_gap_s=3.0)] == [10]
        assert [x.steps for x in walking_bouts(t, min_steps=5, max_gap_s=2.9)] == [5, 5]

    def test_empty_and_bad(self) -> None:
        assert walking_bouts([]) == []
        with pytest.raises(ValueError, match="min_steps"):
            walking_bouts([1.0], min_steps=1)
        with pytest.raises(ValueError, match="max_gap_s"):
            walking_bouts([1.0], max_gap_s=0)


def _worn_then_off(
    fs_hz: float, on_min: int, off_min: int, on2_min: int
) -> npt.NDArray[np.float64]:
    """Moving wrist (0.2 g swings) for ``on_min``, still on a table, moving again."""
    rng = np.random.default_rng(0)
    spm = int(60 * fs_hz)

    def moving(n_min: int) -> npt.NDArray[np.float64]:
        t = np.arange(n_min * spm) / fs_hz
        a = np.c_[
            0.2 * np.sin(2 * np.pi * 0.3 * t), 0.1 * np.cos(2 * np.pi * 0.05 * t), np.ones_like(t)
        ]
        return a + 0.01 * rng.standard_normal(a.shape)

    still = np.tile([0.0, 0.0, 1.0], (off_min * spm, 1)) + 0.001 * rng.standard_normal(
        (off_min * spm, 3)
    )
    return np.concatenate([moving(on_min), still, moving(on2_min)])


class TestWear:
    def test_three_hours_off_the_wrist(self) -> None:
        # off from minute 60 to 240; 60-min windows centred on 15-min blocks (h = 22 min):
        # a block b is non-wear when [b - 22, b + 38) lies inside [60, 240): b = 90 ... 195
        accel = _worn_then_off(10.0, 60, 180, 60)
        res = detect_wear(accel, 10.0, start_ns=T0)
        assert res.wear.size == 300
        assert np.flatnonzero(~res.wear).tolist() == list(range(90, 210))
        assert res.wear_minutes == 180
        assert res.start_ns == T0

    def test_less_than_an_hour_off_is_worn(self) -> None:
        accel = _worn_then_off(10.0, 60, 45, 60)
        assert detect_wear(accel, 10.0).wear.all()

    def test_nan_minutes_are_not_worn(self) -> None:
        accel = _worn_then_off(10.0, 120, 0, 0)
        accel[600 * 5 : 600 * 7] = np.nan  # minutes 5 and 6 are gaps
        res = detect_wear(accel, 10.0)
        assert np.flatnonzero(~res.wear).tolist() == [5, 6]

    def test_chunked_statistics_equal_one_shot(self) -> None:
        accel = _worn_then_off(10.0, 60, 180, 60)
        parts = [accel_minute_stats(c, 10.0) for c in np.split(accel, 10)]
        a = wear_from_minute_stats(MinuteStats.concat(parts)).wear
        b = detect_wear(accel, 10.0).wear
        np.testing.assert_array_equal(a, b)

    def test_partial_minute_and_bad_rate(self) -> None:
        assert accel_minute_stats(np.ones((650, 3)), 10.0).n.tolist() == [600, 50]
        with pytest.raises(ValueError, match="not whole samples"):
            accel_minute_stats(np.ones((10, 3)), 12.345)
        with pytest.raises(ValueError, match="absurd sample rate"):
            detect_wear(np.ones((10, 3)), 0.5)


class TestDailySummary:
    TZ = ZoneInfo("Europe/London")  # clocks go forward at 01:00 UTC on 2026-03-29

    def _wear(self, start_ns: int, worn: list[tuple[int, int]], n_min: int) -> WearResult:
        w = np.zeros(n_min, dtype=bool)
        for a, b in worn:
            w[a:b] = True
        return WearResult(start_ns, w)

    def test_days_in_local_time_and_judgeable(self) -> None:
        # 2026-03-28 00:00 UTC = 00:00 GMT; recording of 3 days
        start = T0 + 5 * 86400 * S
        n_min = 3 * 1440
        # day 1 (Sat 28th, GMT): worn 07:00-19:00 = 12 h of waking wear -> judgeable
        # day 2 (Sun 29th, 23 h long, BST from 01:00 UTC): worn 06:00-15:00 UTC = 07:00-16:00
        #   BST, 9 h -> not judgeable
        # day 3 (Mon 30th, BST): 10 h worn, 06:00-16:00 UTC = 07:00-17:00 BST -> judgeable
        worn = [
            (7 * 60, 19 * 60),
            (1440 + 6 * 60, 1440 + 15 * 60),
            (2 * 1440 + 6 * 60, 2 * 1440 + 16 * 60),
        ]
        wear = self._wear(start, worn, n_min)
        # steps: 23:30 UTC on the 28th (GMT day 28), 23:30 UTC on the 29th (00:30 BST on 30th)
        steps_s = np.array([23.5 * 3600, 47.5 * 3600, 47.5 * 3600 + 1])
        days = daily_summary(steps_s, start, wear, self.TZ)
        assert [d.date for d in days] == [
            dt.date(2026, 3, 28),
            dt.date(2026, 3, 29),
            dt.date(2026, 3, 30),
            dt.date(2026, 3, 31),
        ]
        assert [d.steps for d in days] == [1, 0, 2, 0]
        assert [d.waking_wear_min for d in days] == [720, 540, 600, 0]
        assert [d.judgeable for d in days] == [True, False, True, False]
        assert days[0].wear_min == 720

    def test_walking_minutes(self) -> None:
        start = T0
        steps_s = np.r_[np.arange(100) * 0.5, 600 + np.arange(30) * 1.0]  # 60+40, then 30
        wear = self._wear(start, [(0, 1440)], 1440)
        (day,) = daily_summary(steps_s, start, wear, "UTC", min_wear_h=16)
        assert day.steps == 130
        assert day.walking_min == 1
        assert day.judgeable

    def test_bad_waking_hours(self) -> None:
        wear = self._wear(T0, [], 10)
        with pytest.raises(ValueError, match="waking_hours"):
            daily_summary([], T0, wear, "UTC", waking_hours=(23, 7))
