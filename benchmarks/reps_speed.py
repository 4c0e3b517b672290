"""Speed of batch repetition counting: a 30-minute session at 100 Hz in under 0.1 s.

The session is synthetic (squats, sets of 10 with 60 s rests, accelerometer and gyroscope);
generating it is not timed. Prints min / median / max over several runs of ``count_reps`` and
of ``segment_session``.

Run: ``python benchmarks/reps_speed.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

# run as a script (python benchmarks/NAME.py): make the repository importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._cli import parser  # noqa: E402
from features.reps import count_reps  # noqa: E402
from features.sessions import segment_session  # noqa: E402
from features.synthetic import synth_session  # noqa: E402

TARGET_S = 0.1
RUNS = 7


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=RUNS, help="timed runs")
    runs = ap.parse_args(argv).runs
    n_sets = 1
    rec = synth_session("squat", [10], rest_s=60.0, fs_hz=100.0, seed=0)
    while rec.t_s[-1] < 30 * 60:
        n_sets += 1
        rec = synth_session("squat", [10] * n_sets, rest_s=60.0, fs_hz=100.0, seed=0)
    n = rec.t_s.size
    print(
        f"session: {rec.t_s[-1] / 60:.1f} min at {rec.fs_hz:.0f} Hz, {n} samples, "
        f"{n_sets} sets, {rec.total_reps} true repetitions"
    )
    ok = True
    for label, fn in (
        ("count_reps", lambda: count_reps(rec.accel_g, rec.fs_hz, rec.gyro_dps).count),
        (
            "segment_session",
            lambda: segment_session(rec.accel_g, rec.fs_hz, rec.gyro_dps).total_reps,
        ),
    ):
        times = []
        got = 0
        for _ in range(runs):
            t0 = time.perf_counter()
            got = fn()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        ok &= med < TARGET_S
        print(
            f"{label:16s} counted {got:4d}  min {min(times):.3f} s  median {med:.3f} s  "
            f"max {max(times):.3f} s  target < {TARGET_S} s: {'MET' if med < TARGET_S else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
