"""Loaders for the labelled step datasets in ``../shared/datasets`` (benchmarks and tests).

Each loader yields :class:`Recording` objects: acceleration in g resampled to a uniform rate,
the true step count, and the true step times where the dataset has them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from features.steps import resample_uniform
from tests.support.datasets import datasets_dir

G_MS2 = 9.80665
"""Standard gravity, m/s^2 (to convert m/s^2 to g)."""
OXFORD_FS_HZ = 100.0
"""Rate the irregular Oxford phone recordings are resampled to, Hz."""
MAX_GAP_S = 0.25
"""Gaps between samples longer than this, s, are NaN (counted as gaps); shorter are interpolated."""


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
    clean_count: int | None = None
    """oxford optimisation only: steps of the foot switches after :func:`foot_switch_steps`
    (switch chatter removed, missed contacts restored)."""
    clean_times_s: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    """Times of the ``clean_count`` steps, s from the first sample of ``accel_g``."""


@dataclass(frozen=True)
class FootSwitchSteps:
    """Steps of two foot switches, cleaned by :func:`foot_switch_steps`.

    Attributes
    ----------
    times_ns:
        int64 (n,) step times, ns (same clock as the input).
    chatter:
        Contacts dropped: the same foot switched on again within half its median stride.
    restored:
        Contacts inserted: the other foot switched on twice, one stride apart, with no contact
        of this foot in between.
    """

    times_ns: npt.NDArray[np.int64] = field(repr=False)
    chatter: int
    restored: int


def foot_switch_steps(
    t_ns: npt.ArrayLike, foot1: npt.ArrayLike, foot2: npt.ArrayLike
) -> FootSwitchSteps:
    """Step times from two foot-switch state columns, with switch faults repaired.

    A step is a 0->1 transition of either switch (the Oxford ``stats.csv`` totals count all of
    them). In walking the feet alternate, so two consecutive contacts of the same foot are a
    fault of the reference:

    * closer than half that foot's median stride (one stride = two steps): *chatter*, the switch
      opened for a sample or two during stance - the second contact is dropped (the Oxford
      switches are sampled every 0.09-0.10 s; the dropped re-contacts follow off-times of
      0.09-0.34 s, 0.18-0.45 s after the previous contact, when the stride is 1.0-1.5 s);
    * 0.75-1.5 median strides apart: the other foot's switch *missed* a contact - one is put
      half-way. Longer intervals (a pause) are left alone.

    Parameters
    ----------
    t_ns:
        (n,) int sample times of the switch states, ns.
    foot1, foot2:
        (n,) switch states (0 open, 1 closed).

    Returns
    -------
    FootSwitchSteps
    """
    t = np.asarray(t_ns, dtype=np.int64)
    events: list[tuple[int, int]] = []
    for foot, col in enumerate((foot1, foot2)):
        x = np.asarray(col, dtype=np.float64)
        events += [(int(u), foot) for u in t[np.flatnonzero(np.diff(x) > 0) + 1]]
    events.sort()
    stride_ns = []
    for foot in (0, 1):
        ft = np.array([e[0] for e in events if e[1] == foot], dtype=np.float64)
        stride_ns.append(float(np.median(np.diff(ft))) if ft.size > 2 else np.inf)
    out: list[tuple[int, int]] = []
    chatter = restored = 0
    for te, foot in events:
        if out and out[-1][1] == foot:
            dt = te - out[-1][0]
            if dt < 0.5 * stride_ns[foot]:
                chatter += 1
                continue
            if 0.75 * stride_ns[foot] <= dt <= 1.5 * stride_ns[foot]:
                out.append(((out[-1][0] + te) // 2, 1 - foot))
                restored += 1
        out.append((te, foot))
    return FootSwitchSteps(np.array([o[0] for o in out], dtype=np.int64), chatter, restored)


def _norm_placement(p: str) -> str:
    p = p.strip().lower()
    return {"backpocket": "back_pocket", "frontpocket": "front_pocket", "inhand": "hand"}.get(p, p)


def load_oxford_optimisation(root: Path | None = None) -> Iterator[Recording]:
    """Oxford optimisation walks: phone accelerometer resampled to 100 Hz, foot-switch truth.

    A true step is a 0->1 transition of either foot switch; its time is the transition time
    (``true_count`` equals ``stats.csv``). ``clean_count`` / ``clean_times_s`` are the same
    switches after :func:`foot_switch_steps` (chatter dropped, missed contacts restored).
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
        clean = foot_switch_steps(st_ns, sw[:, 1], sw[:, 2])
        yield Recording(
            "oxford_optimisation",
            row[0],
            row[1],
            _norm_placement(row[3]),
            a,
            OXFORD_FS_HZ,
            int(row[6]),
            (tt - t_grid[0]) / 1e9,
            clean_count=int(clean.times_ns.size),
            clean_times_s=(clean.times_ns - t_grid[0]) / 1e9,
        )


def load_oxford_validation(root: Path | None = None) -> Iterator[Recording]:
    """Oxford validation walks (about 100 Hz, resampled to 100 Hz).

    Truth: ``gt_cum`` last minus first; true step times are the samples where ``gt_cum``
    increases (it never increases by more than one between samples in these files).
    """
    base = (root or datasets_dir()) / "oxford_stepcounter" / "validation"
    for f in sorted(base.glob("*.csv")):
        arr = np.loadtxt(f, delimiter=",", ndmin=2)
        t_ns = arr[:, 0].astype(np.int64)
        keep = np.r_[True, np.diff(t_ns) > 0]
        t_grid, a = resample_uniform(
            t_ns[keep], arr[keep, 1:4] / G_MS2, OXFORD_FS_HZ, max_gap_s=MAX_GAP_S
        )
        gt = arr[:, 5]
        gk = gt[keep]
        inc = np.flatnonzero(np.diff(gk) > 0) + 1
        user, placement = f.stem.split("_")[:2]
        yield Recording(
            "oxford_validation",
            f.stem,
            user,
            _norm_placement(placement),
            a,
            OXFORD_FS_HZ,
            int(round(gt[-1] - gt[0])),
            (t_ns[keep][inc] - t_grid[0]) / 1e9,
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
