"""The independent lower-back model of the uneven-pauses benchmark (tests/support/kinematics.py)
is the physics it says it is."""

from __future__ import annotations

import numpy as np

from tests.support.kinematics import SQUAT, excursion, kinematic_set, min_jerk


def test_min_jerk_profile() -> None:
    """0 -> 1 with zero velocity and acceleration at both ends; 1/2 at mid-time; the peak
    velocity 15/8 and peak acceleration 10/sqrt(3) per unit time (Flash & Hogan 1985)."""
    u = np.linspace(0.0, 1.0, 100_001)
    x = min_jerk(u)
    v = np.gradient(x, u)
    a = np.gradient(v, u)
    assert x[0] == 0.0 and x[-1] == 1.0 and min_jerk(np.array([0.5]))[0] == 0.5
    assert abs(v[0]) < 1e-6 and abs(v[-1]) < 1e-6
    assert abs(a[1]) < 1e-3 and abs(a[-2]) < 1e-3
    assert abs(v.max() - 15 / 8) < 1e-6
    assert abs(a.max() - 10 / np.sqrt(3)) < 1e-3
    assert np.all(min_jerk(np.array([-1.0, 2.0])) == [0.0, 1.0])


def test_excursion_goes_down_and_back_once_per_repetition() -> None:
    t = np.arange(0, 10, 0.01)
    e = excursion(t, [1.0, 5.0], [2.0, 3.0])
    assert e[t < 1.0].max() == 0.0 and e[(t > 3.0) & (t < 5.0)].max() == 0.0
    assert abs(e[200] - 1.0) < 1e-9  # the turning point at mid-repetition, t = 2 s
    assert abs(e[650] - 1.0) < 1e-9  # t = 6.5 s
    assert e[t > 8.0].max() == 0.0


def test_set_at_rest_measures_one_g_and_keeps_its_pauses() -> None:
    k = kinematic_set(SQUAT, 5, rep_s=2.0, pause_s=(0.5, 1.5), seed=3)
    assert len(k.starts_s) == 5
    gaps = np.diff(k.starts_s) - np.array(k.durations_s[:-1])
    assert np.all((gaps >= 0.5) & (gaps <= 1.5))
    assert all(1.7 <= d <= 2.3 for d in k.durations_s)
    before = k.accel_g[: int(k.starts_s[0] * k.fs_hz)]
    assert abs(float(np.linalg.norm(before.mean(axis=0))) - 1.0) < 0.005
    # During a repetition the segment turns by the movement's pitch: the gravity direction
    # at the turning point differs from the rest pose by 35 degrees (moving the pelvis adds
    # the translation's acceleration, zero at the turning point of a minimum-jerk half).
    mid = int((k.starts_s[0] + k.durations_s[0] / 2) * k.fs_hz)
    g0 = before.mean(axis=0)
    g1 = k.accel_g[mid - 2 : mid + 3].mean(axis=0)
    cos = float(g0 @ g1 / np.linalg.norm(g0) / np.linalg.norm(g1))
    assert abs(np.degrees(np.arccos(cos)) - 35.0) < 2.0
