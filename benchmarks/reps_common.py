"""Shared loading for the repetition benchmarks: the ``metamotion_barbell`` recordings.

Labels come from the protocol (heavy set = 5 repetitions, medium = 10, rest files = 0), never
from a counter. The gyroscope (25 Hz) is linearly interpolated onto the accelerometer timeline
(12.5 Hz) by the device epoch time, over the span both sensors cover.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

_NAME = re.compile(
    r"^(?P<participant>[A-Z])-(?P<exercise>[a-z]+)-(?P<category>heavy|medium|sitting|standing)"
    r"(?P<set>\d*)(?:-rpe(?P<rpe>\d+))?_MetaWear_(?P<time>[^_]+)_(?P<mac>[0-9A-F]+)_"
    r"Accelerometer_(?P<fs>[0-9.]+)Hz"
)
EXPECTED_REPS = {"heavy": 5, "medium": 10, "sitting": 0, "standing": 0}


def datasets_root() -> Path:
    """Folder of the shared datasets: ``$ADHERENCE_DATASETS`` or ``<repo>/../shared/datasets``."""
    env = os.environ.get("ADHERENCE_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def metamotion_dir() -> Path:
    """Folder holding the MetaMotion CSV files."""
    return datasets_root() / "metamotion_barbell" / "MetaMotion"


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
    gyro_dps: NDArray[np.float64]  # resampled onto the accelerometer timeline


def _read_csv(path: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 3, 4, 5), dtype=np.float64)
    data = np.atleast_2d(data)
    return data[:, 0] / 1000.0, data[:, 1:4]


def load_metamotion(folder: Path | None = None) -> list[MetaMotionRecording]:
    """Load every accelerometer/gyroscope pair of the folder, sorted by file name."""
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
        lo, hi = max(t_acc[0], t_gyr[0]), min(t_acc[-1], t_gyr[-1])
        keep = (t_acc >= lo) & (t_acc <= hi)
        t_acc, acc = t_acc[keep], acc[keep]
        gyr_on_acc = np.column_stack([np.interp(t_acc, t_gyr, gyr[:, k]) for k in range(3)])
        category = m["category"]
        exercise = "rest" if category in ("sitting", "standing") else m["exercise"]
        out.append(
            MetaMotionRecording(
                name=acc_path.name.split("_MetaWear_")[0] + "_" + m["time"],
                participant=m["participant"],
                exercise=exercise,
                category=category,
                expected_reps=EXPECTED_REPS[category],
                fs_hz=float(m["fs"]),
                accel_g=acc,
                gyro_dps=gyr_on_acc,
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
