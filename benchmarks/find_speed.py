"""Speed and memory of ``find_exercise`` on one day of a worn sensor at 50 Hz.

The day is quiet (gravity plus 0.005 g noise) with five synthetic bridge sessions of two sets
of ten repetitions (``features.synthetic.synth_session``), so the expected answer is known:
five bouts of [10, 10]. Prints the time, the peak resident memory of the process and the bouts.

Run: ``python benchmarks/find_speed.py [--hours H]`` (default 24).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

# run as a script (python benchmarks/NAME.py): make the repository importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._cli import parser  # noqa: E402
from features.sessions import find_exercise  # noqa: E402
from features.synthetic import synth_session  # noqa: E402

FS_HZ = 50.0


def main(argv: list[str] | None = None) -> int:
    """Build the day, time one call, print the figures."""
    ap = parser(__doc__)
    ap.add_argument("--hours", type=float, default=24.0, help="length of the day, h")
    hours = ap.parse_args(argv).hours
    n = int(hours * 3600 * FS_HZ)
    rng = np.random.default_rng(0)
    acc = np.tile([0.1, 0.2, 0.97], (n, 1)) + rng.normal(0.0, 0.005, (n, 3))
    rec = synth_session("bridge", [10, 10], seed=1)
    m = rec.accel_g.shape[0]
    for k in range(0, n - m, n // 5):
        acc[k : k + m] = rec.accel_g
    t0 = time.perf_counter()
    res = find_exercise(acc, FS_HZ)
    dt = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"find_exercise, {hours:g} h at {FS_HZ:g} Hz: {dt:.1f} s, peak RSS {peak_mb:.0f} MB "
        f"(input {acc.nbytes / 2**20:.0f} MB); bouts {[b.reps_per_set for b in res.bouts]} "
        "(expected 5 x [10, 10])"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
