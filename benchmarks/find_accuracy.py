"""Accuracy of finding exercise in a continuous recording (``features.sessions.find_exercise``).

Continuous "days" are built from the real shared recordings, all resampled to 50 Hz (anti-aliased
polyphase filters), in g:

* walks: ``oxford_stepcounter`` optimisation walks (phone: hand, pockets, armband, neck pouch,
  bag) and ``ipol_lumbar_dev`` trials (lower back);
* exercise bouts: the sets of one participant's exercise in ``metamotion_barbell`` (wrist;
  heavy = 5, medium = 10 repetitions, from the protocol), and consecutive sets of one exercise
  in one ``muvr_wrist_dev`` session (wrist; counts typed by the person), with quiet rests of
  30-90 s (slow postural drift, a few fidgets) between the sets;
* the ``metamotion_barbell`` rest files (sitting, standing; 0 repetitions), still periods (the
  sensor on a table, 20-90 s) and sensor handling (4-12 s: picked up, turned, shaken, put on)
  between every two pieces.

Each piece gets a uniformly random sensor rotation (one per bout: the sensor stays where it
is between sets); handling turns the gravity direction from the end of one piece to the start
of the next. Truth comes from the datasets only: a true set spans its file.

Metrics: a found set is *matched* when it overlaps a true set by at least half of the shorter
of the two; precision = matched found sets / found sets; recall = matched true sets / true
sets; repetitions exact and within +-1 per matched set; walking: minutes of walk pieces inside
found sets, and walk pieces that any found set overlaps ("walking bouts taken for exercise").

Tuning split (``tune``): MetaMotion participants A and B, muvr ``arms``, Oxford user 1, IPOL
subjects 1-4. Everything else is ``test`` (unseen people, exercises and placements). The
thresholds of ``features/finding.py`` are physical (cadence ranges) and were only checked on the
tune split; the test split is reported separately.

Run: ``python benchmarks/find_accuracy.py [--seed N]`` (``ADHERENCE_DATASETS`` overrides the
data folder; the seed changes the arrangement, rotations, rests and handling, default 15).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import signal
from scipy.spatial.transform import Rotation, Slerp

# run as a script (python benchmarks/NAME.py): make the repository importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._cli import parser  # noqa: E402
from features.reps import count_reps  # noqa: E402
from features.sessions import find_exercise  # noqa: E402
from tests.support.datasets import datasets_dir  # noqa: E402
from tests.support.reps_data import load_metamotion, unique_recordings  # noqa: E402
from tests.support.steps_data import load_ipol_lumbar, load_oxford_optimisation  # noqa: E402

FS_HZ = 50.0
Array = NDArray[np.float64]
TARGET_RECALL = TARGET_PRECISION = 0.95


@dataclass
class Piece:
    """A stretch of signal (g, its own sensor frame) with what it truly is."""

    kind: str  # "walk", "set", "rest", "still", "handling"
    accel_g: Array
    name: str = ""
    reps: int = 0
    split: str = "test"
    countable: bool = True
    """The set alone (3 s of stillness either side) gives count_reps >= 3 repetitions."""


@dataclass
class Bout:
    """Sets of one exercise by one person, in order."""

    name: str
    sets: list[Piece]
    split: str


@dataclass
class Day:
    """A built continuous recording with its truth (times in s from its first sample)."""

    accel_g: Array
    sets: list[tuple[float, float, Piece]] = field(default_factory=list)
    walks: list[tuple[float, float, str]] = field(default_factory=list)


def resample(x: Array, fs_hz: float) -> Array:
    """Anti-aliased resampling of (N, 3) ``x`` from ``fs_hz`` to :data:`FS_HZ`; NaN filled."""
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.all(np.isfinite(x), axis=1)
    if bad.any():
        good = np.flatnonzero(~bad)
        for j in range(3):
            x[bad, j] = np.interp(np.flatnonzero(bad), good, x[good, j])
    r = Fraction(FS_HZ / fs_hz).limit_denominator(100)
    if r == 1:
        return x
    mean = x.mean(axis=0)
    y = signal.resample_poly(x - mean, r.numerator, r.denominator, axis=0)
    return np.asarray(y + mean, dtype=np.float64)


# --------------------------------------------------------------------------- loading


def load_walks() -> list[Piece]:
    """Oxford optimisation walks and IPOL trials, at 50 Hz."""
    out = []
    for r in load_oxford_optimisation():
        split = "tune" if r.subject == "1" else "test"
        out.append(Piece("walk", resample(r.accel_g, r.fs_hz), f"oxford {r.name}", split=split))
    for r in load_ipol_lumbar():
        split = "tune" if int(r.subject) <= 4 else "test"
        out.append(Piece("walk", resample(r.accel_g, r.fs_hz), f"ipol {r.name}", split=split))
    return out


def load_metamotion_bouts() -> tuple[list[Bout], list[Piece]]:
    """Bouts (one participant's sets of one exercise and category) and rest files."""
    groups: dict[tuple[str, str, str], list[Piece]] = defaultdict(list)
    rests = []
    for r in unique_recordings(load_metamotion()):
        split = "tune" if r.participant in ("A", "B") else "test"
        acc = resample(r.accel_g, r.fs_hz)
        if r.exercise == "rest":
            rests.append(Piece("rest", acc, f"metamotion {r.name}", split=split))
            continue
        groups[(r.participant, r.exercise, r.category)].append(
            Piece("set", acc, f"metamotion {r.name}", r.expected_reps, split)
        )
    bouts = [Bout("metamotion " + "-".join(k), v, v[0].split) for k, v in sorted(groups.items())]
    return bouts, rests


def _read_muvr(path: Path) -> tuple[Array, str, int]:
    rows = list(csv.reader(path.open()))
    acc = np.array([[float(v) for v in row[:3]] for row in rows], dtype=np.float64)
    reps = rows[0][6].strip() if len(rows[0]) > 6 else ""
    return acc, rows[0][3], int(float(reps)) if reps else 0


def load_muvr_bouts() -> list[Bout]:
    """Consecutive files of one exercise in one muvr session form a bout (50 Hz, g)."""
    base = datasets_dir() / "muvr_wrist_dev"
    bouts: list[Bout] = []
    for group in ("arms", "chest"):
        split = "tune" if group == "arms" else "test"
        files = sorted(
            base.glob(f"{group}/*.csv"),
            key=lambda p: (p.stem.rsplit("_", 1)[0], int(p.stem.rsplit("_", 1)[1])),
        )
        prev: tuple[str, str] | None = None
        for f in files:
            acc, exercise, reps = _read_muvr(f)
            if reps <= 0 or acc.shape[0] < 50:
                prev = None
                continue
            key = (f.stem.rsplit("_", 1)[0], exercise)
            piece = Piece("set", acc, f"muvr {group}/{f.stem} {exercise}", reps, split)
            if key == prev:
                bouts[-1].sets.append(piece)
            else:
                bouts.append(Bout(f"muvr {key[0]} {exercise}", [piece], split))
            prev = key
    return bouts


# --------------------------------------------------------------------------- building


def _gravity(acc: Array, at_end: bool) -> Array:
    part = acc[-int(FS_HZ) :] if at_end else acc[: int(FS_HZ)]
    g = part.mean(axis=0)
    return np.asarray(g / max(float(np.linalg.norm(g)), 1e-9))


def _turn(u0: Array, u1: Array) -> Rotation:
    """The smallest rotation taking unit vector u0 to u1."""
    axis = np.cross(u0, u1)
    s, c = float(np.linalg.norm(axis)), float(np.dot(u0, u1))
    if s < 1e-9:
        return Rotation.identity() if c > 0 else Rotation.from_rotvec(np.pi * _perp(u0))
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c))


def _perp(u: Array) -> Array:
    v = np.cross(u, [1.0, 0.0, 0.0])
    if np.linalg.norm(v) < 1e-6:
        v = np.cross(u, [0.0, 1.0, 0.0])
    return np.asarray(v / np.linalg.norm(v))


def handling(g0: Array, g1: Array, rng: np.random.Generator) -> Array:
    """Sensor handling: gravity turns from g0 to g1 with wobble and shaking (4-12 s, g)."""
    n = int(rng.uniform(4.0, 12.0) * FS_HZ)
    t = np.linspace(0.0, 1.0, n)
    path = Slerp([0.0, 1.0], Rotation.concatenate([Rotation.identity(), _turn(g0, g1)]))(t)
    wob = np.cumsum(rng.normal(0, 0.08, (n, 3)), axis=0)
    wob -= np.outer(t, wob[-1])  # ends where it began
    wob = signal.savgol_filter(wob, min(n - (1 - n % 2), 31), 2, axis=0)
    rot = path * Rotation.from_rotvec(wob)
    acc = rot.apply(np.tile(g0, (n, 1)))
    b, a = signal.butter(2, 4.0 / (FS_HZ / 2))
    shake = signal.filtfilt(b, a, rng.normal(0, 0.25, (n, 3)), axis=0)
    return np.asarray(acc + shake * np.sin(np.pi * t)[:, None])


def still(g: Array, rng: np.random.Generator, lo_s: float, hi_s: float, fidgets: int) -> Array:
    """Quiet: gravity ``g`` with sensor noise, a slow drift and ``fidgets`` small movements."""
    n = int(rng.uniform(lo_s, hi_s) * FS_HZ)
    t = np.arange(n) / FS_HZ
    drift = np.radians(1.0) * np.sin(2 * np.pi * rng.uniform(0.01, 0.05) * t)[:, None] * _perp(g)
    rv = drift.copy()
    for _ in range(fidgets):
        c, d = rng.uniform(0.2, 0.8) * t[-1], rng.uniform(0.5, 2.0)
        bump = np.exp(-0.5 * ((t - c) / (d / 4)) ** 2)
        axis = rng.normal(size=3)
        rv += np.radians(rng.uniform(3, 10)) * bump[:, None] * axis / np.linalg.norm(axis)
    acc = Rotation.from_rotvec(rv).apply(np.tile(g, (n, 1)))
    return np.asarray(acc + rng.normal(0, 0.004, acc.shape))


def build_day(pieces: list[Piece | Bout], rng: np.random.Generator) -> Day:
    """Concatenate walks, bouts and rest files with still and handling periods in between."""
    chunks: list[Array] = []
    day = Day(np.empty((0, 3)))
    t = 0.0
    g_prev = Rotation.random(random_state=rng).apply([0.0, 0.0, 1.0])

    def add(acc: Array) -> None:
        nonlocal t
        chunks.append(acc)
        t += acc.shape[0] / FS_HZ

    add(still(g_prev, rng, 20, 90, 0))
    for item in pieces:
        rot = Rotation.random(random_state=rng)
        first = item.sets[0].accel_g if isinstance(item, Bout) else item.accel_g
        g_next = _gravity(rot.apply(first), at_end=False)
        add(handling(g_prev, g_next, rng))
        add(still(g_next, rng, 3, 10, 0))  # settle before the piece starts
        if isinstance(item, Bout):
            for k, s in enumerate(item.sets):
                acc = rot.apply(s.accel_g)
                if k:
                    g_rest = _gravity(acc, at_end=False)
                    add(still(g_rest, rng, 30, 90, int(rng.integers(0, 3))))
                day.sets.append((t, t + acc.shape[0] / FS_HZ, s))
                add(acc)
        else:
            acc = rot.apply(item.accel_g)
            if item.kind == "walk":
                day.walks.append((t, t + acc.shape[0] / FS_HZ, item.name))
            add(acc)
        g_prev = _gravity(chunks[-1], at_end=True)
        add(still(g_prev, rng, 3, 10, 0))
        g_table = Rotation.random(random_state=rng).apply([0.0, 0.0, 1.0])
        add(handling(g_prev, g_table, rng))
        add(still(g_table, rng, 20, 60, 0))
        g_prev = g_table
    day.accel_g = np.concatenate(chunks)
    return day


def plan_days(
    walks: list[Piece], bouts: list[Bout], rests: list[Piece], rng: np.random.Generator
) -> list[tuple[str, list[Piece | Bout]]]:
    """Shuffle the pieces of each split into days of two bouts, two or three walks, a rest file."""
    days: list[tuple[str, list[Piece | Bout]]] = []
    for split in ("tune", "test"):
        w = [p for p in walks if p.split == split]
        b = [x for x in bouts if x.split == split]
        r = [p for p in rests if p.split == split]
        w = [w[i] for i in rng.permutation(len(w))]
        b = [b[i] for i in rng.permutation(len(b))]
        r = [r[i] for i in rng.permutation(len(r))]
        n_days = max(1, (len(b) + 1) // 2)
        for d in range(n_days):
            items: list[Piece | Bout] = [*w[d::n_days], *b[d::n_days], *r[d::n_days]]
            order = rng.permutation(len(items))
            days.append((split, [items[i] for i in order]))
    return days


# --------------------------------------------------------------------------- scoring


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


@dataclass
class Tally:
    """Counts for one split."""

    true_sets: int = 0
    found_sets: int = 0
    matched_found: int = 0
    matched_true: int = 0
    countable: int = 0
    matched_countable: int = 0
    exact: int = 0
    within1: int = 0
    walk_pieces: int = 0
    walk_min: float = 0.0
    walk_taken: int = 0
    walk_taken_min: float = 0.0
    misses: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)
    by_source: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))


def score_day(day: Day, tally: Tally) -> None:
    """Find exercise in one day and add its figures to ``tally``."""
    res = find_exercise(day.accel_g, FS_HZ, recognise=False)
    found = [s for b in res.bouts for s in b.sets]
    tally.true_sets += len(day.sets)
    tally.found_sets += len(found)
    used: set[int] = set()
    for a, b, piece in day.sets:
        reps, name = piece.reps, piece.name
        tally.countable += int(piece.countable)
        src = name.split()[0]
        tally.by_source[src][1] += 1
        best = None
        for i, s in enumerate(found):
            ov = _overlap((a, b), (s.start_s, s.end_s))
            if ov >= 0.5 * min(b - a, s.end_s - s.start_s) and ov > 0:
                best = i if best is None else best
        if best is None:
            tally.misses.append(name)
            continue
        used.add(best)
        tally.matched_true += 1
        tally.matched_countable += int(piece.countable)
        tally.by_source[src][0] += 1
        n = found[best].count
        tally.exact += int(n == reps)
        tally.within1 += int(abs(n - reps) <= 1)
    tally.matched_found += len(used)
    for i, s in enumerate(found):
        if i not in used:
            tally.false.append(f"{s.start_s:.0f}-{s.end_s:.0f} s ({s.count} reps)")
    for a, b, _name in day.walks:
        tally.walk_pieces += 1
        tally.walk_min += (b - a) / 60
        ov = sum(_overlap((a, b), (s.start_s, s.end_s)) for s in found)
        tally.walk_taken += int(ov > 0)
        tally.walk_taken_min += ov / 60


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.1f}% ({num}/{den})" if den else "n/a"


def report(split: str, t: Tally) -> bool:
    """Print the figures of one split; True when the targets are met."""
    recall = t.matched_true / t.true_sets if t.true_sets else 0.0
    precision = t.matched_found / t.found_sets if t.found_sets else 0.0
    print(f"\n[{split}]")
    print(f"  recall of true sets      {_pct(t.matched_true, t.true_sets)}")
    print(f"  recall of countable sets {_pct(t.matched_countable, t.countable)}")
    print(f"  precision of found sets  {_pct(t.matched_found, t.found_sets)}")
    for src, (m, n) in sorted(t.by_source.items()):
        print(f"    recall {src:<12}     {_pct(m, n)}")
    print(f"  repetitions exact        {_pct(t.exact, t.matched_true)}")
    print(f"  repetitions within +-1   {_pct(t.within1, t.matched_true)}")
    print(
        f"  walking taken for exercise: {t.walk_taken} of {t.walk_pieces} walking bouts, "
        f"{t.walk_taken_min:.2f} of {t.walk_min:.1f} walking minutes"
    )
    if t.misses:
        print(f"  missed sets ({len(t.misses)}): " + "; ".join(t.misses[:12]))
    if t.false:
        print(f"  unmatched found sets ({len(t.false)}): " + "; ".join(t.false[:12]))
    return recall >= TARGET_RECALL and precision >= TARGET_PRECISION and t.walk_taken == 0


def mark_countable(bouts: list[Bout]) -> None:
    """Mark the sets that ``count_reps`` counts (>= 3) alone, between 3 s of stillness."""
    for b in bouts:
        for s in b.sets:
            n = int(3 * FS_HZ)
            x = np.vstack(
                [np.tile(s.accel_g[:1], (n, 1)), s.accel_g, np.tile(s.accel_g[-1:], (n, 1))]
            )
            s.countable = count_reps(x, FS_HZ).count >= 3


def main(argv: list[str] | None = None) -> int:
    """Build the days, find exercise in each, print the figures per split."""
    ap = parser(__doc__)
    ap.add_argument(
        "--seed", type=int, default=15, help="seed of the arrangement and the sensor rotations"
    )
    rng = np.random.default_rng(ap.parse_args(argv).seed)
    walks = load_walks()
    mm_bouts, rests = load_metamotion_bouts()
    bouts = mm_bouts + load_muvr_bouts()
    mark_countable(bouts)
    days = plan_days(walks, bouts, rests, rng)
    tallies: dict[str, Tally] = defaultdict(Tally)
    hours = 0.0
    for split, items in days:
        day = build_day(items, rng)
        hours += day.accel_g.shape[0] / FS_HZ / 3600
        score_day(day, tallies[split])
    print(
        f"find_exercise on {len(days)} built recordings ({hours:.1f} h at {FS_HZ:g} Hz): "
        f"{len(walks)} walks, {sum(len(b.sets) for b in bouts)} sets in {len(bouts)} bouts, "
        f"{len(rests)} rest files"
    )
    ok = [report(split, tallies[split]) for split in ("tune", "test")]
    print(
        f"\ntargets (recall >= {TARGET_RECALL:.0%}, precision >= {TARGET_PRECISION:.0%}, "
        f"0 walking bouts): {'met' if all(ok) else 'NOT met'} "
        f"(tune {'met' if ok[0] else 'not met'}, test {'met' if ok[1] else 'not met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
