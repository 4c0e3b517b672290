"""Loaders for the labelled step datasets in ``../shared/datasets`` (benchmarks and tests).

Each loader yields :class:`Recording` objects: acceleration in g resampled to a uniform rate,
the true step count, and the true step times where the dataset has them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from features.steps import resample_uniform

G_MS2 = 9.80665
"""Standard gravity, m/s^2 (to convert m/s^2 to g)."""
OXFORD_FS_HZ = 100.0
MAX_GAP_S = 0.25
"""Gaps between samples longer than this, s, are NaN (counted as gaps); shorter are interpolated."""
"""Rate the irregular Oxford phone recordings are resampled to, Hz."""


def datasets_dir() -> Path:
    """Folder of the shared datasets: ``$ADHERENCE_DATASETS`` or ``<repo>/../shared/datasets``."""
    env = os.environ.get("ADHERENCE_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@dataclass(frozen=True)
class Recording:
    """One labelled walk.

    Attributes
    ----------
    dataset, name, subject, placement:
        Identification (``placement`` is the dataset's own label, used only for reporting).
    accel_g:
        (N, 3) float64 acceleration, g, uniform at ``fs_hz``.
    fs_hz:
        Sample rate, Hz.
    true_count:
        Number of true steps.
    true_times_s:
        True step times, s from the first sample of ``accel_g``, or ``None``.
    """

    dataset: str
    name: str
    subject: str
    placement: str
    accel_g: npt.NDArray[np.float64] = field(repr=False)
    fs_hz: float
    true_count: int
    true_times_s: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    annotated_count: int | None = None
    """ipol only: all annotated footsteps, including those outside ``TrialBoundaries``."""
    window_s: tuple[float, float] | None = None
    """Count only steps in this window, s from the first sample (ipol: the trial)."""


def _norm_placement(p: str) -> str:
    p = p.strip().lower()
    return {"backpocket": "back_pocket", "frontpocket": "front_pocket", "inhand": "hand"}.get(p, p)


def load_oxford_optimisation(root: Path | None = None) -> Iterator[Recording]:
    """Oxford optimisation walks: phone accelerometer resampled to 100 Hz, foot-switch truth.

    A true step is a 0->1 transition of either foot switch; its time is the transition time.
    """
    base = (root or datasets_dir()) / "oxford_stepcounter" / "optimisation"
    rows = [
        [c.strip() for c in line.split(",")]
        for line in (base / "stats.csv").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for row in rows:
        d = base / "data" / row[0]
        acc = np.loadtxt(d / "accelerometer.csv", delimiter=",", ndmin=2)
        t_ns = acc[:, 0].astype(np.int64)
        order = np.argsort(t_ns, kind="stable")
        t_ns, xyz = t_ns[order], acc[order, 2:5]
        keep = np.r_[True, np.diff(t_ns) > 0]
        t_ns, xyz = t_ns[keep], xyz[keep]
        t_grid, a = resample_uniform(t_ns, xyz / G_MS2, OXFORD_FS_HZ, max_gap_s=MAX_GAP_S)
        sw = np.loadtxt(d / "stepcounter.csv", delimiter=",", ndmin=2)
        st_ns = sw[:, 0].astype(np.int64)
        times: list[npt.NDArray[np.int64]] = []
        for col in (1, 2):
            up = np.flatnonzero(np.diff(sw[:, col]) > 0) + 1
            times.append(st_ns[up])
        tt = np.sort(np.concatenate(times))
        yield Recording(
            "oxford_optimisation",
            row[0],
            row[1],
            _norm_placement(row[3]),
            a,
            OXFORD_FS_HZ,
            int(row[6]),
            (tt - t_grid[0]) / 1e9,
        )


def load_oxford_validation(root: Path | None = None) -> Iterator[Recording]:
    """Oxford validation walks (about 100 Hz, resampled to 100 Hz); truth is the last ``gt_cum``."""
    base = (root or datasets_dir()) / "oxford_stepcounter" / "validation"
    for f in sorted(base.glob("*.csv")):
        arr = np.loadtxt(f, delimiter=",", ndmin=2)
        t_ns = arr[:, 0].astype(np.int64)
        keep = np.r_[True, np.diff(t_ns) > 0]
        _, a = resample_uniform(
            t_ns[keep], arr[keep, 1:4] / G_MS2, OXFORD_FS_HZ, max_gap_s=MAX_GAP_S
        )
        gt = arr[:, 5]
        user, placement = f.stem.split("_")[:2]
        yield Recording(
            "oxford_validation",
            f.stem,
            user,
            _norm_placement(placement),
            a,
            OXFORD_FS_HZ,
            int(round(gt[-1] - gt[0])),
        )


def load_ipol_lumbar(root: Path | None = None) -> Iterator[Recording]:
    """IPOL lower-back (L5) trials at 100 Hz; steps count inside ``TrialBoundaries``.

    The whole file is returned (so that the filters have context at the trial ends) with
    ``window_s`` set to the trial: only steps detected inside it (within the matching
    tolerance) are counted.

    The time axis is ``PacketCounter`` / 100 Hz: the files miss packets (rows), and the
    annotations index the packet counter (step times match it better than row numbers). Gaps
    of up to ``MAX_GAP_S`` are interpolated; longer ones are NaN (``nan_policy="gap"``).
    Truth: the annotated footsteps whose landing (end of the [start, end] pair) lies inside the
    trial; some files annotate footsteps after ``TrialBoundaries[1]``, which are not counted.
    True step times are the landing times, s from the first sample of the file.
    """
    base = (root or datasets_dir()) / "ipol_lumbar_dev" / "GaitData"
    for js in sorted(base.glob("*.json"), key=lambda p: [int(x) for x in p.stem.split("-")]):
        meta = json.loads(js.read_text())
        data = np.loadtxt(base / f"{js.stem}_lb.txt", skiprows=2, ndmin=2)
        pc = data[:, 0].astype(np.int64)
        keep = np.r_[True, np.diff(pc) > 0]
        t_ns, a = resample_uniform(
            pc[keep] * 10_000_000, data[keep, 1:4] / G_MS2, 100.0, max_gap_s=MAX_GAP_S
        )
        idx = t_ns // 10_000_000
        s, e = meta["TrialBoundaries"]
        ev_all = np.asarray(meta["LeftFootEvents"] + meta["RightFootEvents"], dtype=np.float64)
        ev = ev_all[(ev_all[:, 1] >= s) & (ev_all[:, 1] <= e)]
        t0 = int(idx[0])
        tt = np.sort(ev[:, 1] - t0) / 100.0
        yield Recording(
            "ipol_lumbar_dev",
            js.stem,
            str(meta["Subject"]),
            "lower_back",
            a,
            100.0,
            len(ev),
            tt,
            len(ev_all),
            ((s - t0) / 100.0, (e - t0) / 100.0),
        )
