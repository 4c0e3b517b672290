"""Speed and memory benchmark: a week of 100 Hz triaxial data to daily steps, in chunks.

1. Generate (once; reused if present) 7 days of realistic synthetic float32 acceleration at
   100 Hz into ``benchmarks/_data/week_100hz.f32`` (about 726 MB, gitignored) with a JSON
   sidecar: nights of sleep with posture changes, sedentary days with fidgeting, walking bouts of
   1-20 min at 1.5-2.1 steps/s (orientation drawn per bout), and one mostly unworn day.
2. Run a *separate* Python process that reads the file in 1-hour chunks with ``readinto`` into
   one reused buffer, streams it through :class:`features.steps.StepCounter` and the per-minute
   wear statistics, and prints the daily summary.
3. Report that process's wall time and peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``),
   min / median / max over ``--runs`` runs.

Targets: <= 3 s wall time and <= 500 MB peak RSS on one core.

Run: ``python benchmarks/steps_speed.py [--runs 3] [--regenerate]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import parser  # noqa: E402

DATA_DIR = REPO / "benchmarks" / "_data"
DATA_FILE = DATA_DIR / "week_100hz.f32"
META_FILE = DATA_DIR / "week_100hz.json"
FS_HZ = 100.0
DAYS = 7
START_NS = 1_774_224_000_000_000_000  # 2026-03-23 00:00 UTC, a Monday
TZ = "Europe/London"
TARGET_WALL_S = 3.0
TARGET_RSS_MB = 500.0


# --------------------------------------------------------------------------- generator


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.standard_normal(4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _hour(rng: np.random.Generator, day: int, hour: int) -> tuple[np.ndarray, int]:
    """One hour of samples (float32, g) and the number of steps generated in it."""
    n = int(3600 * FS_HZ)
    t = np.arange(n, dtype=np.float64) / FS_HZ
    unworn = day == 2 and hour >= 9
    if unworn:  # on the table: gravity on one axis, sensor noise only
        a = np.zeros((n, 3), np.float32)
        a[:, 2] = 1.0
        a += rng.normal(0, 0.002, (n, 3)).astype(np.float32)
        return a, 0
    asleep = hour < 7 or hour >= 23
    a = np.empty((n, 3), np.float64)
    steps = 0
    # postures: a new orientation every 5-40 min; small fidgets while awake, turns while asleep
    i = 0
    while i < n:
        seg = int(rng.uniform(300, 2400) * FS_HZ)
        g = _rotation(rng) @ np.array([0.0, 0.0, 1.0])
        a[i : i + seg] = g
        i += seg
    fidget = 0.004 if asleep else 0.02
    a += rng.normal(0, fidget, (n, 3))
    if not asleep:
        # 0-3 walking bouts per hour, 1-15 min each, one per 20-min slot (no overlap)
        slots = rng.permutation(3)[: int(rng.integers(0, 4))]
        for slot in slots:
            dur_s = float(rng.uniform(60, 900))
            s0 = float(slot * 1200 + rng.uniform(0, 1200 - dur_s))
            f = float(rng.uniform(1.5, 2.1))
            k = int(dur_s * f)
            st = s0 + (np.arange(k) + 0.5) / f + rng.normal(0, 0.01, k)
            i0, i1 = int(s0 * FS_HZ), int((s0 + dur_s) * FS_HZ)
            tw = t[i0:i1]
            z = np.zeros(i1 - i0)
            idx = np.clip(np.rint((st - s0) * FS_HZ).astype(int), 0, i1 - i0 - 1)
            z[idx] = 1.0
            z[idx[-1]] = 0.1  # the closing step, feet together, barely shows
            kt = np.arange(-30, 31) / FS_HZ
            kern = 0.35 * np.exp(-0.5 * (kt / 0.06) ** 2) - 0.12 * np.exp(
                -0.5 * ((kt - 0.2) / 0.08) ** 2
            )
            z = np.convolve(z, kern, mode="same")
            sway = 0.08 * np.sin(np.pi * f * (tw - s0))
            rot = _rotation(rng)
            body = np.c_[sway, 0.03 * np.sin(2 * np.pi * f * (tw - s0)), 1.0 + z]
            a[i0:i1] = body @ rot.T + rng.normal(0, 0.02, (i1 - i0, 3))
            steps += k
    return a.astype(np.float32), steps


def generate(path: Path = DATA_FILE, meta_path: Path = META_FILE, seed: int = 7) -> dict:
    """Write the synthetic week to ``path`` (float32, C order, (N, 3), g) and its sidecar."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    daily: list[int] = []
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for day in range(DAYS):
            total = 0
            for hour in range(24):
                a, k = _hour(rng, day, hour)
                f.write(a.tobytes())
                total += k
            daily.append(total)
    tmp.replace(path)
    meta = {
        "fs_hz": FS_HZ,
        "n_samples": int(DAYS * 24 * 3600 * FS_HZ),
        "start_ns": START_NS,
        "tz": "UTC",
        "true_steps_per_utc_day": daily,
        "unworn": "day 2 from 09:00 UTC",
        "seed": seed,
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


# --------------------------------------------------------------------------- child process


def process(path: Path, meta_path: Path) -> None:
    """Child: stream the file in 1-hour chunks and print one JSON line of daily results."""
    from features.activity import (
        MinuteStats,
        accel_minute_stats,
        daily_summary,
        wear_from_minute_stats,
    )
    from features.steps import StepCounter

    meta = json.loads(meta_path.read_text())
    fs = float(meta["fs_hz"])
    chunk = int(3600 * fs)
    buf = np.empty((chunk, 3), dtype=np.float32)
    mv = buf.data.cast("B")
    counter = StepCounter(fs)
    times: list[np.ndarray] = []
    stats: list[MinuteStats] = []
    with open(path, "rb", buffering=0) as f:
        while True:
            nbytes = f.readinto(mv)
            if not nbytes:
                break
            a = buf[: nbytes // 12]
            times.append(counter.update(a))
            stats.append(accel_minute_stats(a, fs))
    times.append(counter.finish())
    step_times = np.concatenate(times)
    wear = wear_from_minute_stats(MinuteStats.concat(stats), start_ns=int(meta["start_ns"]))
    days = daily_summary(step_times, int(meta["start_ns"]), wear, meta["tz"])
    print(
        json.dumps(
            {
                "steps": [d.steps for d in days],
                "judgeable": [d.judgeable for d in days],
                "wear_h": [round(d.waking_wear_min / 60, 1) for d in days],
            }
        )
    )


def check_one_shot(path: Path = DATA_FILE) -> None:
    """Count the whole week in one call and in 1-hour chunks; print whether they agree."""
    sys.path.insert(0, str(REPO))
    from features.steps import StepCounter, count_steps

    a = np.fromfile(path, dtype=np.float32).reshape(-1, 3)
    whole = count_steps(a, FS_HZ).step_times_s
    counter = StepCounter(FS_HZ)
    hour = int(3600 * FS_HZ)
    parts = [counter.update(a[i : i + hour]) for i in range(0, len(a), hour)]
    chunked = np.concatenate([*parts, counter.finish()])
    same = whole.size == chunked.size and bool(np.array_equal(whole, chunked))
    print(
        f"one-shot {whole.size} steps, chunked {chunked.size} steps: "
        f"{'identical step times' if same else 'DIFFERENT'}"
    )


# --------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    """Generate the data if needed, time the child process, print the figures."""
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=3, help="timed runs")
    ap.add_argument("--regenerate", action="store_true", help="rebuild the cached week of data")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--check-one-shot",
        action="store_true",
        help="also count the whole week in one call (about 2 GB) and compare with the chunks",
    )
    args = ap.parse_args(argv)
    if args.child:
        process(DATA_FILE, META_FILE)
        return 0
    if args.regenerate or not DATA_FILE.exists() or not META_FILE.exists():
        t0 = time.perf_counter()
        generate()
        print(f"generated {DATA_FILE} in {time.perf_counter() - t0:.1f} s")
    meta = json.loads(META_FILE.read_text())
    size_mb = DATA_FILE.stat().st_size / 2**20
    print(f"data: {meta['n_samples']} samples x 3 float32 at {meta['fs_hz']} Hz ({size_mb:.0f} MB)")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    walls: list[float] = []
    rss: list[float] = []
    out = ""
    for _ in range(args.runs):
        # each run in a fresh grandchild so RUSAGE_CHILDREN measures that run only
        code = (
            "import resource, subprocess, sys, time, json\n"
            "t = time.perf_counter()\n"
            f"p = subprocess.run([sys.executable, {str(Path(__file__))!r}, '--child'],"
            " capture_output=True, text=True, check=True)\n"
            "w = time.perf_counter() - t\n"
            "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(json.dumps({'wall': w, 'rss_kb': r, 'out': p.stdout}))\n"
        )
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        d = json.loads(res.stdout)
        walls.append(d["wall"])
        rss.append(d["rss_kb"] / 1024)
        out = d["out"]
    daily = json.loads(out)
    print("daily steps (UTC days):", daily["steps"])
    print("true steps            :", meta["true_steps_per_utc_day"])
    print("judgeable             :", daily["judgeable"], "waking wear h:", daily["wear_h"])
    err = [
        abs(p - t) / t * 100
        for p, t in zip(daily["steps"], meta["true_steps_per_utc_day"], strict=True)
        if t
    ]
    print(f"daily step error: mean {np.mean(err):.2f}% max {np.max(err):.2f}%")
    if args.check_one_shot:
        check_one_shot()
    wall_s = (min(walls), statistics.median(walls), max(walls))
    rss_s = (min(rss), statistics.median(rss), max(rss))
    print(
        f"wall time s  min/median/max: {wall_s[0]:.2f} / {wall_s[1]:.2f} / {wall_s[2]:.2f}"
        f"  (target <= {TARGET_WALL_S})  {'OK' if wall_s[1] <= TARGET_WALL_S else 'MISS'}"
    )
    print(
        f"peak RSS MB  min/median/max: {rss_s[0]:.0f} / {rss_s[1]:.0f} / {rss_s[2]:.0f}"
        f"  (target <= {TARGET_RSS_MB:.0f})  {'OK' if rss_s[2] <= TARGET_RSS_MB else 'MISS'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
