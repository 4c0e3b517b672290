"""Tests of features.steps: synthetic walks with exact counts, real labelled clips, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from features.steps import StepCounter, StepParams, StepResult, count_steps, resample_uniform
from tests.support.datasets import dataset_or_skip

G_MS2 = 9.80665

# --------------------------------------------------------------------------- synthetic signals


def _rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _heel_strike_g(t: npt.NDArray[np.float64], s: float) -> npt.NDArray[np.float64]:
    """Vertical acceleration (g) of one step at ``s`` seconds: a 0.35 g impact, then a rebound."""
    return 0.35 * np.exp(-0.5 * ((t - s) / 0.06) ** 2) - 0.12 * np.exp(
        -0.5 * ((t - s - 0.2) / 0.08) ** 2
    )


def synthetic_walk(
    n_steps: int,
    cadence_hz: float,
    fs_hz: float = 100.0,
    *,
    seed: int = 0,
    pad_s: float = 5.0,
    noise_g: float = 0.02,
    asym: float = 0.0,
    closing_amp: float = 0.1,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(N, 3) acceleration in g of a walk with exactly ``n_steps`` heel strikes, and their times.

    Each step is a 0.35 g impact pulse followed by a smaller rebound, in the body's vertical
    axis, plus a lateral sway at the stride frequency; the body frame is then rotated randomly
    (sensor orientation unknown). ``asym`` scales every other step (a phone in one pocket).
    The last step, which brings the feet together, has ``closing_amp`` of the impact of the
    others: at the lower back of the IPOL walks it is almost invisible (about 5 % of the
    previous peak of the band-passed magnitude).
    """
    rng = np.random.default_rng(seed)
    dur_s = n_steps / cadence_hz
    t = np.arange(int(round((dur_s + 2 * pad_s) * fs_hz))) / fs_hz
    steps_s = np.asarray(pad_s + (np.arange(n_steps) + 0.5) / cadence_hz, dtype=np.float64)
    vert = np.ones_like(t)
    for i, s in enumerate(steps_s):
        amp = (1.0 - asym * (i % 2)) * (closing_amp if i == n_steps - 1 else 1.0)
        vert += amp * _heel_strike_g(t, s)
    walking = (t > pad_s) & (t < pad_s + dur_s)
    sway = 0.05 * np.sin(np.pi * cadence_hz * (t - pad_s)) * walking
    body = np.c_[sway, np.zeros_like(t), vert] + noise_g * rng.standard_normal((t.size, 3))
    accel: npt.NDArray[np.float64] = body @ _rotation(rng).T
    return accel, steps_s


class TestCountStepsSynthetic:
    @pytest.mark.parametrize("cadence_hz", [1.0, 1.4, 1.8, 2.2, 2.5])
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_exact_count_any_orientation(self, cadence_hz: float, seed: int) -> None:
        accel, truth_s = synthetic_walk(120, cadence_hz, seed=seed)
        res = count_steps(accel, 100.0)
        assert res.count == 120
        assert res.step_times_s.dtype == np.float64
        np.testing.assert_allclose(res.step_times_s, truth_s, atol=0.1)

    @pytest.mark.parametrize("fs_hz", [25.0, 50.0, 100.0, 200.0, 405.0])
    def test_exact_count_any_rate(self, fs_hz: float) -> None:
        accel, truth_s = synthetic_walk(120, 1.8, fs_hz, seed=3)
        res = count_steps(accel, fs_hz)
        assert res.count == 120
        assert res.fs_hz == fs_hz
        np.testing.assert_allclose(res.step_times_s, truth_s, atol=0.1)

    def test_asymmetric_steps_are_all_counted(self) -> None:
        accel, _ = synthetic_walk(120, 1.9, seed=4, asym=0.5)
        assert count_steps(accel, 100.0).count == 120

    def test_still_sensor_has_no_steps(self) -> None:
        rng = np.random.default_rng(5)
        accel = np.tile(_rotation(rng) @ [0, 0, 1.0], (60_000, 1))
        accel += 0.005 * rng.standard_normal(accel.shape)
        res = count_steps(accel, 100.0)
        assert res.count == 0
        assert res.step_times_s.shape == (0,)
        assert res.duration_s == pytest.approx(600.0)

    def test_isolated_movements_are_not_steps(self) -> None:
        # three sit-to-stand-like bumps 5 s apart: fewer than min_run_steps in a run
        fs = 100.0
        t = np.arange(int(30 * fs)) / fs
        z = 1 + sum(0.4 * np.exp(-0.5 * ((t - c) / 0.15) ** 2) for c in (8.0, 13.0, 18.0))
        accel = np.c_[np.zeros_like(t), np.zeros_like(t), z]
        assert count_steps(accel, fs).count == 0

    def test_result_is_frozen(self) -> None:
        accel, _ = synthetic_walk(10, 1.8)
        res = count_steps(accel, 100.0)
        assert isinstance(res, StepResult)
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.count = 3  # type: ignore[misc]


class TestStreaming:
    @pytest.mark.parametrize("seed", [0, 1, 2, 3])
    def test_chunks_give_identical_steps(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        parts = [
            synthetic_walk(int(rng.integers(8, 80)), float(rng.uniform(1.2, 2.4)), seed=seed + k)[0]
            for k in range(4)
        ]
        accel = np.concatenate(parts)
        whole = count_steps(accel, 100.0).step_times_s
        sc = StepCounter(100.0)
        got: list[npt.NDArray[np.float64]] = []
        i = 0
        while i < len(accel):
            n = int(rng.integers(1, 900))
            got.append(sc.update(accel[i : i + n]))
            i += n
        got.append(sc.finish())
        chunked = np.concatenate(got)
        assert sc.count == chunked.size
        np.testing.assert_array_equal(chunked, whole)

    def test_float32_chunks_equal_float64_one_shot_count(self) -> None:
        accel, _ = synthetic_walk(200, 1.7, seed=9)
        sc = StepCounter(100.0)
        n = sum(sc.update(c).size for c in np.array_split(accel.astype(np.float32), 7))
        n += sc.finish().size
        assert n == 200

    def test_update_after_finish_raises(self) -> None:
        sc = StepCounter(100.0)
        sc.finish()
        with pytest.raises(ValueError, match="already finished"):
            sc.update(np.zeros((10, 3)))

    def test_empty_chunk_is_allowed(self) -> None:
        sc = StepCounter(50.0)
        assert sc.update(np.empty((0, 3))).size == 0
        assert sc.finish().size == 0


class TestGaps:
    def test_nan_raises_by_default(self) -> None:
        accel, _ = synthetic_walk(20, 1.8)
        accel[100] = np.nan
        with pytest.raises(ValueError, match="NaN or inf"):
            count_steps(accel, 100.0)

    def test_inf_raises(self) -> None:
        accel, _ = synthetic_walk(20, 1.8)
        accel[5, 1] = np.inf
        with pytest.raises(ValueError, match="NaN or inf"):
            count_steps(accel, 100.0)

    def test_gap_policy_counts_each_segment(self) -> None:
        a1, t1 = synthetic_walk(60, 1.8, seed=1)
        a2, t2 = synthetic_walk(50, 1.6, seed=2)
        gap = np.full((300, 3), np.nan)
        accel = np.concatenate([a1, gap, a2])
        res = count_steps(accel, 100.0, nan_policy="gap")
        assert res.count == 110
        truth = np.r_[t1, t2 + (len(a1) + 300) / 100.0]
        np.testing.assert_allclose(res.step_times_s, truth, atol=0.1)

    def test_gap_is_never_zeros(self) -> None:
        # a NaN run replaced by zeros would be a 1 g drop and create spurious steps
        a, _ = synthetic_walk(0, 1.8, pad_s=10.0)
        accel = a.copy()
        for start in range(200, 1800, 300):
            accel[start : start + 50] = np.nan
        assert count_steps(accel, 100.0, nan_policy="gap").count == 0

    def test_bad_nan_policy(self) -> None:
        with pytest.raises(ValueError, match="nan_policy"):
            count_steps(np.zeros((10, 3)), 100.0, nan_policy="zero")  # type: ignore[arg-type]


class TestBadInput:
    @pytest.mark.parametrize(
        ("accel", "match"),
        [
            (np.zeros((0, 3)), "zero length"),
            (np.zeros((100, 2)), "wrong shape"),
            (np.zeros(300), "wrong shape"),
            (np.zeros((3, 100)), "wrong shape"),
            (np.array([["a", "b", "c"]]), "real numbers"),
        ],
    )
    def test_bad_array(self, accel: npt.NDArray[np.generic], match: str) -> None:
        with pytest.raises(ValueError, match=match):
            count_steps(accel, 100.0)

    @pytest.mark.parametrize("fs_hz", [0.0, -100.0, 5.0, 1e6, float("nan"), float("inf")])
    def test_absurd_sample_rate(self, fs_hz: float) -> None:
        with pytest.raises(ValueError, match="absurd sample rate"):
            count_steps(np.zeros((100, 3)), fs_hz)

    def test_bad_params(self) -> None:
        with pytest.raises(ValueError, match="band_hz"):
            StepParams(band_hz=(3.0, 1.0))


class TestResampleUniform:
    def test_linear_signal_is_exact(self) -> None:
        t_ns = np.array([0, 7_000_000, 21_000_000, 30_000_000, 41_000_000])
        v = np.c_[t_ns / 1e9, 2 * t_ns / 1e9, np.ones(5)]
        tg, vg = resample_uniform(t_ns, v, 100.0)
        np.testing.assert_array_equal(tg, [0, 10_000_000, 20_000_000, 30_000_000, 40_000_000])
        np.testing.assert_allclose(vg[:, 0], [0, 0.01, 0.02, 0.03, 0.04], atol=1e-12)
        np.testing.assert_allclose(vg[:, 1], [0, 0.02, 0.04, 0.06, 0.08], atol=1e-12)

    def test_gap_becomes_nan(self) -> None:
        t_ns = np.array([0, 10, 20, 2000, 2010]) * 1_000_000
        tg, vg = resample_uniform(t_ns, np.ones((5, 3)), 100.0, max_gap_s=0.5)
        assert tg.size == 202
        nan_rows = np.flatnonzero(np.isnan(vg).any(axis=1))
        np.testing.assert_array_equal(nan_rows, np.arange(3, 200))

    def test_one_dimensional_values(self) -> None:
        _, vg = resample_uniform([0, 20_000_000], [0.0, 2.0], 100.0)
        np.testing.assert_allclose(vg, [0.0, 1.0, 2.0])

    @pytest.mark.parametrize(
        ("t_ns", "values", "match"),
        [
            ([], np.zeros((0, 3)), "zero length"),
            ([0, 10, 5], np.zeros((3, 3)), "non-monotonic"),
            ([0, 10, 10], np.zeros((3, 3)), "non-monotonic"),
            ([0, 10, 20], np.zeros((2, 3)), "wrong shape"),
            ([0.0, 1.0], np.zeros((2, 3)), "integer ns"),
            ([0, 10], [[np.nan, 0, 0], [0, 0, 0]], "NaN or inf"),
        ],
    )
    def test_bad_input(self, t_ns: list[float], values: npt.ArrayLike, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            resample_uniform(np.asarray(t_ns), values, 100.0)

    def test_absurd_rate(self) -> None:
        with pytest.raises(ValueError, match="absurd sample rate"):
            resample_uniform([0, 10], [0.0, 1.0], 0.0)


# --------------------------------------------------------------------------- real recordings


@pytest.fixture(scope="module")
def oxford_dir() -> Path:
    return dataset_or_skip("oxford_stepcounter", "optimisation")


@pytest.fixture(scope="module")
def ipol_dir() -> Path:
    return dataset_or_skip("ipol_lumbar_dev", "GaitData")


def _foot_switch_truth(path: Path) -> npt.NDArray[np.int64]:
    sw = np.loadtxt(path, delimiter=",", ndmin=2)
    t = sw[:, 0].astype(np.int64)
    ups = [t[np.flatnonzero(np.diff(sw[:, c]) > 0) + 1] for c in (1, 2)]
    return np.sort(np.concatenate(ups))


@pytest.mark.parametrize(
    "recording",
    [
        "Samsung_Dario_Hard_InHand_1",
        "Samsung_Carmelo_Hard_FrontPocket_2",
        "Pixel_Jamie_Hard_NeckPouch_2",
        "Samsung_Dario_Hard_ArmBand_2",
    ],
)
def test_oxford_clip_matches_foot_switches(oxford_dir: Path, recording: str) -> None:
    d = oxford_dir / "data" / recording
    acc = np.loadtxt(d / "accelerometer.csv", delimiter=",", ndmin=2)
    t_ns = acc[:, 0].astype(np.int64)
    keep = np.r_[True, np.diff(t_ns) > 0]
    tg, a = resample_uniform(t_ns[keep], acc[keep, 2:5] / G_MS2, 100.0, max_gap_s=10.0)
    truth_s = (_foot_switch_truth(d / "stepcounter.csv") - tg[0]) / 1e9
    res = count_steps(a, 100.0)
    assert abs(res.count - truth_s.size) <= 0.03 * truth_s.size
    # each true step has a detected step within 0.25 s (one-to-one, greedy in time)
    used = np.zeros(res.count, dtype=bool)
    hits = 0
    for t in truth_s:
        k = np.flatnonzero(~used & (np.abs(res.step_times_s - t) <= 0.25))
        if k.size:
            used[k[0]] = True
            hits += 1
    assert hits >= 0.93 * truth_s.size


def test_ipol_subject_total_within_trials(ipol_dir: Path) -> None:
    true_total = 0
    counted = 0
    for trial in range(1, 7):
        meta = json.loads((ipol_dir / f"1-{trial}.json").read_text())
        data = np.loadtxt(ipol_dir / f"1-{trial}_lb.txt", skiprows=2, ndmin=2)
        pc = data[:, 0].astype(np.int64)
        keep = np.r_[True, np.diff(pc) > 0]
        tg, a = resample_uniform(
            pc[keep] * 10_000_000, data[keep, 1:4] / G_MS2, 100.0, max_gap_s=0.25
        )
        s, e = meta["TrialBoundaries"]
        idx = tg // 10_000_000
        counted += count_steps(a[(idx >= s) & (idx <= e)], 100.0, nan_policy="gap").count
        ev = np.asarray(meta["LeftFootEvents"] + meta["RightFootEvents"])
        true_total += int(((ev[:, 1] >= s) & (ev[:, 1] <= e)).sum())
    assert abs(counted - true_total) <= 0.04 * true_total


def test_oxford_chunked_equals_one_shot(oxford_dir: Path) -> None:
    d = oxford_dir / "data" / "Samsung_Carmelo_Hard_Purse_1"
    acc = np.loadtxt(d / "accelerometer.csv", delimiter=",", ndmin=2)
    t_ns = acc[:, 0].astype(np.int64)
    keep = np.r_[True, np.diff(t_ns) > 0]
    _, a = resample_uniform(t_ns[keep], acc[keep, 2:5] / G_MS2, 100.0, max_gap_s=10.0)
    whole = count_steps(a, 100.0).step_times_s
    sc = StepCounter(100.0)
    rng = np.random.default_rng(0)
    bounds = np.sort(rng.integers(0, len(a), 40))
    parts = [sc.update(c) for c in np.split(a.astype(np.float32), bounds)] + [sc.finish()]
    chunked = np.concatenate(parts)
    assert whole.size > 250
    # Same steps, same times: the chunk boundaries change nothing (allclose needs equal sizes).
    assert chunked.size == whole.size
    np.testing.assert_allclose(chunked, whole, atol=1e-6)


def test_closing_step_ends_each_walk() -> None:
    # two walks whose last steps are invisible (closing_amp=0): one closing step each
    a1, _ = synthetic_walk(40, 1.8, seed=1, closing_amp=0.0)
    a2, _ = synthetic_walk(30, 1.6, seed=2, closing_amp=0.0)
    accel = np.concatenate([a1, a2])
    assert count_steps(accel, 100.0).count == 70
    assert count_steps(accel, 100.0, params=StepParams(closing_step=False)).count == 68


def test_no_closing_step_when_the_data_ends_mid_walk() -> None:
    accel, _ = synthetic_walk(60, 1.8, seed=3, pad_s=5.0)
    cut = accel[: int((5.0 + 39.5 / 1.8 + 0.3) * 100)]  # ends 0.3 s after the 40th step
    assert count_steps(cut, 100.0).count == 40


def test_all_nan_with_gap_policy_is_empty() -> None:
    res = count_steps(np.full((500, 3), np.nan), 50.0, nan_policy="gap")
    assert res.count == 0
    assert res.duration_s == 10.0


def synthetic_limp(
    n_steps: int,
    seed: int,
    *,
    short_s: float,
    long_s: float,
    amp2: float,
    shift: bool,
    shift_before_s: float = 0.3,
    shift_amp: float = 0.2,
) -> npt.NDArray[np.float64]:
    """Walk with alternating step intervals and heights (one leg dominates), optionally with a
    weight shift (a ``shift_amp`` g pulse ``shift_before_s`` before the first step); last step
    weak (closing step)."""
    rng = np.random.default_rng(seed)
    fs, pad = 100.0, 5.0
    steps = pad + np.r_[0, np.cumsum(np.where(np.arange(n_steps - 1) % 2 == 0, short_s, long_s))]
    t = np.arange(int((steps[-1] + pad) * fs)) / fs
    vert = np.ones_like(t)
    for i, s in enumerate(steps):
        amp = (amp2 if i % 2 else 1.0) * (0.1 if i == n_steps - 1 else 1.0)
        vert += amp * _heel_strike_g(t, s)
    if shift:
        vert += shift_amp * np.exp(-0.5 * ((t - (steps[0] - shift_before_s)) / 0.06) ** 2)
    sway = 0.05 * np.sin(2 * np.pi * t / (short_s + long_s))
    body = np.c_[sway, np.zeros_like(t), vert] + 0.02 * rng.standard_normal((t.size, 3))
    accel: npt.NDArray[np.float64] = body @ _rotation(rng).T
    return accel


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("amp2", [0.5, 0.75])
def test_limp_counts_both_legs(seed: int, amp2: float) -> None:
    accel = synthetic_limp(120, seed, short_s=0.44, long_s=0.68, amp2=amp2, shift=False)
    assert count_steps(accel, 100.0).count == 120


@pytest.mark.parametrize("seed", [0, 1])
def test_weight_shift_before_walk_is_not_a_step(seed: int) -> None:
    accel = synthetic_limp(60, seed, short_s=0.55, long_s=0.55, amp2=1.0, shift=True)
    assert count_steps(accel, 100.0).count == 60


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_weak_peak_before_walk_is_not_a_step(seed: int) -> None:
    # a weight shift 0.6 s before the first step (longer than the 0.55 s step interval, so the
    # interval rule cannot see it) at 0.1 g, 0.29 x a step impact: dropped by its height
    accel = synthetic_limp(
        60, seed, short_s=0.55, long_s=0.55, amp2=1.0, shift=True, shift_before_s=0.6, shift_amp=0.1
    )
    assert count_steps(accel, 100.0).count == 60
    assert count_steps(accel, 100.0, params=StepParams(initiation_height=0.0)).count == 61


# --------------------------------------------------------------------------- benchmark truth


def _switch_states(
    contacts_s: list[float], dur_s: float, *, stance_s: float = 0.3
) -> npt.NDArray[np.float64]:
    """Foot-switch state sampled every 0.01 s: closed for ``stance_s`` from each contact."""
    t = np.arange(int(round(dur_s * 100))) / 100
    x = np.zeros_like(t)
    for c in contacts_s:
        x[(t >= c - 1e-9) & (t < c + stance_s - 1e-9)] = 1.0
    return x


@pytest.mark.parametrize(
    ("left_s", "right_s", "chatter", "restored", "expected_s"),
    [
        # clean alternation at 0.5 s per step (stride 1 s): unchanged
        ([1, 2, 3, 4, 5], [1.5, 2.5, 3.5, 4.5], 0, 0, [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]),
        # the left switch opens for 0.05 s during stance at 3.1 s: one contact dropped
        ([1, 2, 3, 3.15, 4, 5], [1.5, 2.5, 3.5, 4.5], 1, 0, [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]),
        # the right switch misses its contact at 3.5 s: restored half-way between 3 and 4
        ([1, 2, 3, 4, 5], [1.5, 2.5, 4.5], 0, 1, [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]),
        # a 3 s pause then the same foot again: nothing inserted
        ([1, 2, 3, 6, 7], [1.5, 2.5, 6.5], 0, 0, [1, 1.5, 2, 2.5, 3, 6, 6.5, 7]),
    ],
)
def test_foot_switch_steps_repairs_chatter_and_missed_contacts(
    left_s: list[float],
    right_s: list[float],
    chatter: int,
    restored: int,
    expected_s: list[float],
) -> None:
    from tests.support.steps_data import foot_switch_steps

    dur_s = 8.0
    t_ns = np.arange(int(dur_s * 100), dtype=np.int64) * 10_000_000
    if chatter:  # the chattering contact re-closes a still-closed switch: open it briefly
        left = _switch_states([c for c in left_s if c != 3.15], dur_s)
        left[(t_ns >= 3.10e9) & (t_ns < 3.15e9)] = 0.0
    else:
        left = _switch_states(left_s, dur_s)
    res = foot_switch_steps(t_ns, left, _switch_states(right_s, dur_s))
    assert (res.chatter, res.restored) == (chatter, restored)
    np.testing.assert_allclose(res.times_ns / 1e9, expected_s, atol=0.011)


class TestCountStepsInChunks:
    """``count_steps`` runs the chunked engine: same steps as one update on the whole array."""

    @pytest.mark.parametrize("chunk", [777, 1500])
    def test_counts_identical_to_one_shot_engine(
        self, monkeypatch: pytest.MonkeyPatch, chunk: int
    ) -> None:
        from features import steps as steps_mod

        parts = [synthetic_walk(n, f, seed=k)[0] for k, (n, f) in enumerate([(40, 1.7), (30, 2.1)])]
        accel = np.concatenate(parts)
        sc = StepCounter(100.0)
        one_shot = np.concatenate([sc.update(accel), sc.finish()])
        monkeypatch.setattr(steps_mod, "COUNT_CHUNK", chunk)
        res = count_steps(accel, 100.0)
        assert len(accel) > 3 * chunk
        assert res.count == 70  # the synthetic walks have 40 + 30 steps
        np.testing.assert_array_equal(res.step_times_s, one_shot)

    def test_gap_across_chunk_boundary(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from features import steps as steps_mod

        a1, _ = synthetic_walk(60, 1.8, seed=1)
        a2, _ = synthetic_walk(50, 1.6, seed=2)
        accel = np.concatenate([a1, np.full((300, 3), np.nan), a2])
        # the old way, computed here: one ungated counter per finite run, then walk gating
        ungated = StepParams(min_run_steps=1)
        times = []
        for s, e in ((0, len(a1)), (len(a1) + 300, len(accel))):
            sc = StepCounter(100.0, ungated)
            times.append(np.concatenate([sc.update(accel[s:e]), sc.finish()]) + s / 100.0)
        expected = np.concatenate(times)
        monkeypatch.setattr(steps_mod, "COUNT_CHUNK", len(a1) + 150)  # a boundary in the gap
        res = count_steps(accel, 100.0, nan_policy="gap")
        assert res.count == 110
        np.testing.assert_array_equal(res.step_times_s, expected)
        monkeypatch.setattr(steps_mod, "COUNT_CHUNK", 500)  # boundaries inside both walks
        np.testing.assert_array_equal(
            count_steps(accel, 100.0, nan_policy="gap").step_times_s, expected
        )

    def test_nan_row_is_named_in_a_later_chunk(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from features import steps as steps_mod

        accel, _ = synthetic_walk(20, 1.8, seed=3)
        accel[1234, 2] = np.nan
        monkeypatch.setattr(steps_mod, "COUNT_CHUNK", 1000)
        with pytest.raises(ValueError, match="row 1234"):
            count_steps(accel, 100.0)
