"""Clock alignment: lower-hull offset and drift estimate (Moon, Skelly & Towsley 1999)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.clock import ClockEstimator

T0_UNIX_NS = 1_795_000_000_000_000_000  # 2026-11-18 host time
DEV0_NS = 830_000_000_000_000_000  # Polar-style device time, ns since 2000-01-01


def _simulate(ppm: float, n: int, period_s: float, seed: int, delay_ms: float = 5.0):
    """Device clock running ``ppm`` fast; exponential positive delivery delays."""
    rng = np.random.default_rng(seed)
    host_true = T0_UNIX_NS + np.round(np.arange(n) * period_s * 1e9).astype(np.int64)
    dev = DEV0_NS + np.round((host_true - T0_UNIX_NS) * (1 + ppm * 1e-6)).astype(np.int64)
    delay = np.round(rng.exponential(delay_ms * 1e6, n) + 2e5).astype(np.int64)  # >= 0.2 ms
    return dev, host_true + delay, host_true


class TestClockEstimator:
    def test_empty_has_no_model(self):
        est = ClockEstimator()
        assert est.model() is None
        with pytest.raises(ValueError, match="no clock pairs"):
            est.to_host([1])

    def test_single_pair_gives_offset_only(self):
        est = ClockEstimator()
        est.add(1_000, 5_000)
        m = est.model()
        assert m is not None
        assert m.slope == 0.0
        assert est.to_host([1_000, 2_000]).tolist() == [5_000, 6_000]

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_50ppm_fast_within_1ms_per_min(self, seed):
        # 10 minutes of notifications every 0.25 s, device 50 ppm fast.
        dev, host, _ = _simulate(50.0, 2400, 0.25, seed)
        est = ClockEstimator()
        for d, h in zip(dev.tolist(), host.tolist(), strict=True):
            est.add(d, h)
        m = est.model()
        assert m is not None
        # 1 ms/min is 16.7 ppm; the lower hull does much better.
        assert abs(m.drift_ppm - 50.0) <= 16.7
        assert abs(m.drift_ms_per_min - 3.0) <= 1.0
        assert abs(m.drift_ppm - 50.0) <= 2.0

    def test_mapping_recovers_true_host_time_up_to_min_delay(self):
        dev, host, true = _simulate(50.0, 2400, 0.25, 7)
        est = ClockEstimator()
        for d, h in zip(dev.tolist(), host.tolist(), strict=True):
            est.add(d, h)
        err_ms = (est.to_host(dev) - true) / 1e6
        # Error = minimum delay (0.2 ms) plus estimation error; never negative by > 0.1 ms.
        assert err_ms.min() > -0.1
        assert err_ms.max() < 1.0

    def test_naive_host_stamping_would_be_worse(self):
        """The estimator must beat the first-pair offset, which ignores drift (50 ppm x 10 min
        = 30 ms off at the end)."""
        dev, host, true = _simulate(50.0, 2400, 0.25, 9)
        naive = dev + (host[0] - dev[0])
        est = ClockEstimator()
        for d, h in zip(dev.tolist(), host.tolist(), strict=True):
            est.add(d, h)
        assert abs(int(naive[-1] - true[-1])) > 20_000_000
        assert abs(int(est.to_host(dev[-1:])[0] - true[-1])) < 1_000_000

    def test_slow_clock_negative_drift(self):
        dev, host, _ = _simulate(-80.0, 1200, 0.5, 4)
        est = ClockEstimator()
        for d, h in zip(dev.tolist(), host.tolist(), strict=True):
            est.add(d, h)
        m = est.model()
        assert m is not None and abs(m.drift_ppm + 80.0) <= 2.0

    def test_device_clock_reset_starts_afresh(self):
        est = ClockEstimator()
        for i in range(10):
            est.add(DEV0_NS + i * 10**9, T0_UNIX_NS + i * 10**9)
        est.add(5 * 10**9, T0_UNIX_NS + 11 * 10**9)  # sensor rebooted: time near zero
        assert est.resets == 1
        assert est.n_points == 1
        assert est.to_host([5 * 10**9]).tolist() == [T0_UNIX_NS + 11 * 10**9]

    def test_align_hook_learns_then_maps(self):
        est = ClockEstimator()
        d = np.array([DEV0_NS - 20_000_000, DEV0_NS], dtype=np.int64)
        t = est.align(d, T0_UNIX_NS)
        assert t.tolist() == [T0_UNIX_NS - 20_000_000, T0_UNIX_NS]
        assert est.n_points == 1
