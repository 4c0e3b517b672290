"""Shared data for the repetition benchmarks and tests: the ``metamotion_barbell`` recordings,
and activity (random walk, fidgeting, a water bottle, standing up) put into the rests of a
synthetic session (:func:`with_rest_activity`).

Labels come from the protocol (heavy set = 5 repetitions, medium = 10, rest files = 0), never
from a counter. The gyroscope (25 Hz) is linearly interpolated onto the accelerometer timeline
(12.5 Hz) by the device epoch time, over the span both sensors cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from features.synthetic import SynthRecording
from tests.support.datasets import datasets_dir

_NAME = re.compile(
    r"^(?P<participant>[A-Z])-(?P<exercise>[a-z]+)-(?P<category>heavy|medium|sitting|standing)"
    r"(?P<set>\d*)(?:-rpe(?P<rpe>\d+))?_MetaWear_(?P<time>[^_]+)_(?P<mac>[0-9A-F]+)_"
    r"Accelerometer_(?P<fs>[0-9.]+)Hz"
)
EXPECTED_REPS = {"heavy": 5, "medium": 10, "sitting": 0, "standing": 0}


def metamotion_dir() -> Path:
    """Folder holding the MetaMotion CSV files."""
    return datasets_dir() / "metamotion_barbell" / "MetaMotion"


@dataclass(frozen=True)
class MetaMotionRecording:
    """One MetaMotion recording (one set, or one rest file) with its protocol label."""

    name: str
    participant: str
    exercise: str  # "bench", "dead", "ohp", "row", "squat" or "rest"
    category: str  # "heavy", "medium", "sitting", "standing"
    expected_reps: int
    fs_hz: float
    accel_g: NDArray[np.float64]
    gyro_dps: NDArray[np.float64]  # on the same timeline as accel_g


def _read_csv(path: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 3, 4, 5), dtype=np.float64)
    data = np.atleast_2d(data)
    return data[:, 0] / 1000.0, data[:, 1:4]


def _align(
    t_acc: NDArray[np.float64],
    acc: NDArray[np.float64],
    t_gyr: NDArray[np.float64],
    gyr: NDArray[np.float64],
    onto: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Both sensors on one timeline over the span both cover: the accelerometer's (gyroscope
    interpolated, 12.5 Hz) or the gyroscope's (accelerometer interpolated, 25 Hz)."""
    lo, hi = max(t_acc[0], t_gyr[0]), min(t_acc[-1], t_gyr[-1])
    t_ref, ref, t_other, other = (
        (t_acc, acc, t_gyr, gyr) if onto == "accel" else (t_gyr, gyr, t_acc, acc)
    )
    keep = (t_ref >= lo) & (t_ref <= hi)
    t_ref, ref = t_ref[keep], ref[keep]
    moved = np.column_stack([np.interp(t_ref, t_other, other[:, k]) for k in range(3)])
    fs = float(1.0 / np.median(np.diff(t_ref)))
    return (ref, moved, fs) if onto == "accel" else (moved, ref, fs)


def load_metamotion(folder: Path | None = None, onto: str = "accel") -> list[MetaMotionRecording]:
    """Load every accelerometer/gyroscope pair of the folder, sorted by file name.

    ``onto="accel"``: the gyroscope is interpolated onto the accelerometer's times (12.5 Hz);
    ``onto="gyro"``: the accelerometer onto the gyroscope's (25 Hz), as issue 13 evaluates.
    """
    folder = folder if folder is not None else metamotion_dir()
    out: list[MetaMotionRecording] = []
    for acc_path in sorted(folder.glob("*_Accelerometer_*.csv")):
        m = _NAME.match(acc_path.name)
        if m is None:
            continue
        gyr_candidates = sorted(
            folder.glob(acc_path.name.split("_Accelerometer_")[0] + "_Gyroscope_*.csv")
        )
        if not gyr_candidates:
            continue
        t_acc, acc = _read_csv(acc_path)
        t_gyr, gyr = _read_csv(gyr_candidates[0])
        acc, gyr_al, fs = _align(t_acc, acc, t_gyr, gyr, onto)
        category = m["category"]
        exercise = "rest" if category in ("sitting", "standing") else m["exercise"]
        out.append(
            MetaMotionRecording(
                name=acc_path.name.split("_MetaWear_")[0] + "_" + m["time"],
                participant=m["participant"],
                exercise=exercise,
                category=category,
                expected_reps=EXPECTED_REPS[category],
                fs_hz=float(m["fs"]) if onto == "accel" else round(fs, 3),
                accel_g=acc,
                gyro_dps=gyr_al,
            )
        )
    return out


def unique_recordings(recs: list[MetaMotionRecording]) -> list[MetaMotionRecording]:
    """Drop copies: some recordings appear under two participant letters (A and E, D and E)
    with the same file time and identical samples. Keeps the first by name."""
    seen: set[tuple[str, str]] = set()
    out: list[MetaMotionRecording] = []
    for rec in sorted(recs, key=lambda r: r.name):
        key = (rec.name.split("-", 1)[1], str(rec.accel_g.shape))
        if key in seen:
            continue
        seen.add(key)
        out.append(rec)
    return out


#: Kinds of activity :func:`with_rest_activity` puts into the rests of a synthetic session.
REST_ACTIVITIES = ("quiet", "random_walk", "fidget", "water_bottle", "stand_up")


def _ramp(t_s: NDArray[np.float64], t0_s: float, dur_s: float) -> NDArray[np.float64]:
    """0 before ``t0_s``, 1 after ``t0_s + dur_s``, a raised cosine in between."""
    u = np.clip((t_s - t0_s) / dur_s, 0.0, 1.0)
    return 0.5 * (1.0 - np.cos(np.pi * u))


def _unit(rng: np.random.Generator) -> NDArray[np.float64]:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _rest_rotation(
    kind: str, t_s: NDArray[np.float64], fs_hz: float, rng: np.random.Generator
) -> Rotation:
    """Extra rotation of the sensor (its own frame) over one rest whose local time is ``t_s``
    (seconds); identity at both ends of the rest."""
    n = t_s.size
    dur = float(t_s[-1]) if n else 0.0
    taper = _ramp(t_s, 0.0, 2.0) * (1.0 - _ramp(t_s, dur - 2.0, 2.0))
    if kind == "random_walk":  # orientation drifts (~3 deg/sqrt(s)) and comes back at the end
        rv = np.cumsum(rng.normal(0.0, np.radians(3.0) / np.sqrt(fs_hz), (n, 3)), axis=0)
        rv -= np.outer(t_s / max(dur, 1e-9), rv[-1])  # a Brownian bridge: ends where it began
        return Rotation.from_rotvec(rv * taper[:, None])
    if kind == "fidget":  # small restless movements: one every ~3 s, 3-10 deg, 0.4-2 s, back
        rv = np.zeros((n, 3))
        t0 = 1.0
        while t0 < dur - 3.0:
            d = rng.uniform(0.4, 2.0)
            bump = _ramp(t_s, t0, d / 2) - _ramp(t_s, t0 + d / 2, d / 2)
            rv += np.radians(rng.uniform(3.0, 10.0)) * bump[:, None] * _unit(rng)
            t0 += d + rng.exponential(2.0)
        return Rotation.from_rotvec(rv * taper[:, None])
    if kind == "water_bottle":  # reach (70 deg), bring to the mouth (50 deg), drink, put back
        t0 = rng.uniform(2.0, max(2.0, dur - 14.0))
        a1, a2 = _unit(rng), _unit(rng)
        th1 = np.radians(70.0) * (_ramp(t_s, t0, 1.2) - _ramp(t_s, t0 + 8.2, 1.2))
        th2 = np.radians(50.0) * (_ramp(t_s, t0 + 1.7, 1.0) - _ramp(t_s, t0 + 5.7, 1.5))
        return Rotation.from_rotvec(th1[:, None] * a1) * Rotation.from_rotvec(th2[:, None] * a2)
    if kind == "stand_up":  # get up (80 deg), stand and shift weight, lie/sit down again
        t0 = rng.uniform(2.0, max(2.0, dur - 16.0))
        th = np.radians(80.0) * (_ramp(t_s, t0, 2.5) - _ramp(t_s, t0 + 11.0, 2.5))
        sway = np.radians(4.0) * np.sin(2 * np.pi * 0.3 * t_s) * (th / np.radians(80.0))
        return Rotation.from_rotvec(th[:, None] * _unit(rng)) * Rotation.from_rotvec(
            sway[:, None] * _unit(rng)
        )
    return Rotation.identity(n)


def with_rest_activity(rec: SynthRecording, kind: str, seed: int = 0) -> SynthRecording:
    """A copy of a synthetic session with ``kind`` of activity in every rest between sets.

    The activity rotates the sensor: the measured specific force (g) is turned by the inverse
    rotation and the rotation's own body rate is added to the gyroscope (deg/s). ``stand_up``
    also adds a 1.8 Hz, 0.15 g vertical bounce while standing (a few steps). Rests keep 3 s
    of quiet at each end. ``quiet`` returns the session unchanged.
    """
    if kind not in REST_ACTIVITIES:
        raise ValueError(f"unknown rest activity {kind!r}; choose one of {REST_ACTIVITIES}")
    rng = np.random.default_rng(seed)
    acc, gyr = rec.accel_g.copy(), rec.gyro_dps.copy()
    fs = rec.fs_hz
    for (_, a_s), (b_s, _) in zip(rec.set_bounds_s[:-1], rec.set_bounds_s[1:], strict=True):
        i0, i1 = int((a_s + 3.0) * fs), int((b_s - 3.0) * fs)
        if kind == "quiet" or i1 - i0 < 2:
            continue
        t = np.arange(i1 - i0) / fs
        rot = _rest_rotation(kind, t, fs, rng)
        inv = rot.inv()
        acc[i0:i1] = inv.apply(acc[i0:i1])
        rate = (rot[:-1].inv() * rot[1:]).as_rotvec() * fs  # body rate, rad/s
        rate = np.vstack([rate, rate[-1:]])
        gyr[i0:i1] = inv.apply(gyr[i0:i1]) + np.degrees(rate)
        if kind == "stand_up":
            up = inv.apply(rec.accel_g[i0:i1])  # the gravity direction, sensor frame
            standing = np.linalg.norm(rot.as_rotvec(), axis=1) > np.radians(70.0)
            bounce = 0.15 * np.sin(2 * np.pi * 1.8 * t) * standing
            acc[i0:i1] += bounce[:, None] * up / np.linalg.norm(up, axis=1, keepdims=True)
    return replace(rec, accel_g=acc, gyro_dps=gyr)


def muvr_dir() -> Path:
    """Folder of the muvr wrist recordings (``arms/`` and ``chest/``)."""
    return datasets_dir() / "muvr_wrist_dev"


@dataclass(frozen=True)
class MuvrRecording:
    """One muvr set: wrist accelerometer (g, gravity included, 50 Hz) and the typed count."""

    name: str
    group: str
    exercise: str
    expected_reps: int
    fs_hz: float
    accel_g: NDArray[np.float64]


def load_muvr(folder: Path | None = None) -> list[MuvrRecording]:
    """Load every muvr set with a known count (a missing or 0 count is skipped, as the data
    set's README says), sorted by group and file name."""
    folder = folder if folder is not None else muvr_dir()
    out: list[MuvrRecording] = []
    for path in sorted(folder.glob("*/*.csv")):
        rows = [line.split(",") for line in path.read_text().splitlines() if line.strip()]
        if not rows or len(rows[0]) < 7:
            continue
        try:
            reps = round(float(rows[0][6]))
        except ValueError:
            continue
        if reps <= 0:
            continue
        acc = np.array([[float(v) for v in r[:3]] for r in rows], dtype=np.float64)
        out.append(
            MuvrRecording(
                name=f"{path.parent.name}/{path.stem}",
                group=path.parent.name,
                exercise=rows[0][3],
                expected_reps=reps,
                fs_hz=50.0,
                accel_g=acc,
            )
        )
    return out
