"""Start-up of the ``adherence`` command: wall time and peak memory of ``--help``.

Runs ``adherence --help`` and ``adherence score --help`` in fresh subprocesses, the way the console
entry point does (``from adherence.cli import main; sys.exit(main())``), with this checkout first
on ``PYTHONPATH``. Each run's wall time is measured around the process and its peak resident set
size is read from that one child's ``rusage`` (``os.wait4``, ``ru_maxrss`` in KiB on Linux).
Prints min / median / max over ``--runs`` runs.

Target (issue 16 item 10): <= 0.3 s wall time for ``adherence --help``.

Run: ``python benchmarks/cli_startup.py [--runs 7]``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import parser  # noqa: E402

ENTRY = "import sys; from adherence.cli import main; sys.exit(main())"
COMMANDS = (["--help"], ["score", "--help"])
TARGET_WALL_S = 0.3


def run_once(argv: list[str]) -> tuple[float, float]:
    """One start-up in a subprocess: (wall time in s, peak RSS in MB)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *argv], cwd=REPO, env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"adherence {' '.join(argv)} exited with {proc.returncode}")
    return wall_s, usage.ru_maxrss / 1024


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=7, help="runs per command (median reported)")
    args = ap.parse_args()
    run_once(["--help"])  # warm the file cache, not counted
    medians = []
    for argv in COMMANDS:
        walls, rss = zip(*(run_once(argv) for _ in range(args.runs)), strict=True)
        medians.append(statistics.median(walls))
        label = "adherence " + " ".join(argv)
        print(
            f"{label:<24} wall s min {min(walls):.3f} median {medians[-1]:.3f} "
            f"max {max(walls):.3f} | peak RSS MB median {statistics.median(rss):.1f} "
            f"max {max(rss):.1f} ({args.runs} runs)"
        )
    help_median = medians[0]
    verdict = "met" if help_median <= TARGET_WALL_S else "MISSED"
    print(f"target: adherence --help <= {TARGET_WALL_S} s median: {verdict} ({help_median:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
