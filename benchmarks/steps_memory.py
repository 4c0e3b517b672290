"""Memory benchmark: ``count_steps`` on 28 days of 100 Hz triaxial data in one call.

1. Reuse (or generate once) the synthetic week of ``benchmarks/steps_speed.py``
   (``benchmarks/_data/week_100hz.f32``, float32, 100 Hz, gitignored).
2. A *separate* Python process fills one (N, 3) float32 array with 28 days (the week four times:
   28 d x 100 Hz x 3 x 4 bytes = 2.9 GB), notes its peak RSS (the input), calls
   ``count_steps(a, 100.0)`` once, and notes the peak RSS again; it also counts the same array
   with :class:`features.steps.StepCounter` in 1-hour chunks and says whether the step times are
   identical.
3. Print the peak RSS above the input (``getrusage(RUSAGE_SELF).ru_maxrss`` after minus
   before), the wall time and the counts.

Target: <= 200 MB above the input.

Run: ``python benchmarks/steps_memory.py [--days 28]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import parser  # noqa: E402

FS_HZ = 100.0
TARGET_ABOVE_INPUT_MB = 200.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def child(data_file: Path, days: int) -> None:
    """Fill the input, count it once with count_steps and once in chunks; print one JSON line."""
    sys.path.insert(0, str(REPO))
    from features.steps import StepCounter, count_steps

    week = data_file.stat().st_size // 12
    n = int(days * 24 * 3600 * FS_HZ)
    a = np.empty((n, 3), dtype=np.float32)
    mv = a.data.cast("B")
    pos = 0
    while pos < n:
        take = min(week, n - pos)
        with open(data_file, "rb", buffering=0) as f:
            got = f.readinto(mv[pos * 12 : (pos + take) * 12])
        pos += (got or 0) // 12
    input_peak = _peak_mb()
    t0 = time.perf_counter()
    res = count_steps(a, FS_HZ)
    wall = time.perf_counter() - t0
    after = _peak_mb()
    sc = StepCounter(FS_HZ)
    hour = int(3600 * FS_HZ)
    parts = [sc.update(a[i : i + hour]) for i in range(0, n, hour)]
    chunked = np.concatenate([*parts, sc.finish()])
    print(
        json.dumps(
            {
                "input_mb": a.nbytes / 2**20,
                "peak_before_mb": input_peak,
                "peak_after_mb": after,
                "wall_s": wall,
                "count": res.count,
                "chunked_count": int(chunked.size),
                "identical": bool(np.array_equal(res.step_times_s, chunked)),
            }
        )
    )


def main() -> int:
    """Run the child process and print the figures; exit 1 if the target is missed."""
    ap = parser(__doc__)
    ap.add_argument("--days", type=int, default=28, help="days of 100 Hz data")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.days)
        return 0
    sys.path.insert(0, str(REPO))
    from benchmarks import steps_speed

    if not steps_speed.DATA_FILE.exists():
        print("generating the synthetic week (once) ...", file=sys.stderr)
        steps_speed.generate()
    out = subprocess.run(
        [sys.executable, __file__, "--days", str(args.days), "--child", str(steps_speed.DATA_FILE)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    above = r["peak_after_mb"] - r["peak_before_mb"]
    ok = above <= TARGET_ABOVE_INPUT_MB
    print(f"count_steps, {args.days} days at {FS_HZ:g} Hz, one call on a float32 (N, 3) array")
    print(f"  input                 {r['input_mb']:8.0f} MB")
    print(f"  peak RSS above input  {above:8.1f} MB   (target <= {TARGET_ABOVE_INPUT_MB:.0f} MB)")
    print(f"  wall time             {r['wall_s']:8.1f} s")
    print(
        f"  steps                 {r['count']:8d}   (StepCounter in 1-hour chunks: "
        f"{r['chunked_count']}, {'identical step times' if r['identical'] else 'DIFFERENT'})"
    )
    print("  PASS" if ok and r["identical"] else "  MISS")
    return 0 if ok and r["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
