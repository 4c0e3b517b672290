"""Shared input checks of features/: sample-rate ranges, arrays, the g / m/s^2 unit check."""

from __future__ import annotations

import numpy as np
import pytest

from devices.errors import InputError
from features.validation import (
    REP_FS_RANGE_HZ,
    STEP_FS_RANGE_HZ,
    check_accel_g,
    check_fs,
    check_xyz,
    gravity_at_rest_g,
)


def test_each_purpose_has_its_range() -> None:
    assert check_fs(5.0) == 5.0  # repetitions accept 5 Hz ...
    with pytest.raises(InputError, match=r"sample rate must be within \[10.0, 10000.0\] Hz"):
        check_fs(5.0, fs_range_hz=STEP_FS_RANGE_HZ)  # ... steps do not
    with pytest.raises(InputError, match="absurd sample rate 3000.0 Hz"):
        check_fs(3000.0, fs_range_hz=REP_FS_RANGE_HZ)
    assert check_fs(3000.0, fs_range_hz=STEP_FS_RANGE_HZ) == 3000.0


def test_xyz_checks() -> None:
    with pytest.raises(InputError, match="zero length"):
        check_xyz(np.zeros((0, 3)), "accel_g", "g", allow_empty=False)
    bad = np.zeros((5, 3))
    bad[3, 2] = np.inf
    with pytest.raises(InputError, match="row 3: contains NaN or inf values; hint"):
        check_xyz(bad, "accel_g", "g", nan_hint="; hint")
    assert check_xyz(bad, "accel_g", "g", allow_nan=True).shape == (5, 3)
    assert check_xyz(np.zeros((2, 3), np.float32), "a", "g", keep_float32=True).dtype == np.float32


def test_gravity_level_at_rest() -> None:
    rng = np.random.default_rng(0)
    fs = 50.0
    rest = np.tile([0.0, 0.6, 0.8], (500, 1)) + rng.normal(0, 0.01, (500, 3))
    moving = rng.normal(0, 2.0, (1000, 3)) + [0.0, 0.6, 0.8]  # vigorous, |a| up to ~8 g
    a = np.vstack([rest, moving])
    # 1 g from the quiet 10 s, whatever the vigorous part; 9.81 for the same in m/s^2; ~0
    # without gravity.
    assert gravity_at_rest_g(a, fs) == pytest.approx(1.0, abs=0.01)
    assert gravity_at_rest_g(a * 9.80665, fs) == pytest.approx(9.80665, abs=0.1)
    assert gravity_at_rest_g(a - [0.0, 0.6, 0.8], fs) < 0.02
    assert check_accel_g(a, fs).shape == a.shape
    with pytest.raises(InputError, match="looks like m/s"):
        check_accel_g(a * 9.80665, fs)
