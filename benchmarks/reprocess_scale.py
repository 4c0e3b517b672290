"""Cohort reprocessing benchmark: single process vs Dask with 1 and 2 worker processes.

1. Build (once; cached in ``<tmp>/adherence-reprocess-bench/p<P>-w<W>/``) a synthetic cohort of
   ``--patients`` x ``--weeks`` patient-weeks of continuous 50 Hz wrist wear (24 h a day) plus
   exercise sessions on the plan days (Mon, Wed, Fri: 2 sets of 8 bridges at 50 Hz with a
   gyroscope), with :mod:`adherence.cohort_synth` (``features.synthetic`` for the sessions), and
   write it to the raw archive (:func:`adherence.archive.archive_store`), one subject at a time
   (its temporary store is deleted once archived). About 0.15 GB of archive per patient-week
   (samples as 16-bit counts, times on the nominal grid: ``adherence.archive``).
2. Single-process path, in a child process: :func:`adherence.reprocess.reprocess_subject` for
   every subject in turn (the same work as a worker: archive -> store -> derive and score ->
   Parquet). Wall time and the process's peak RSS.
3. Dask: a ``LocalCluster`` of N worker processes (1 thread each) for N in ``--workers``
   (default 1 and 2): :func:`adherence.reprocess.reprocess_cohort`, wall time, and each worker's
   peak RSS (``getrusage`` in the worker, via ``Client.run``).
4. The outputs of every run are compared table by table with the single-process ones.

Targets: speed-up >= 1.7x on 2 workers over 1 worker; <= 500 MB peak RSS per worker.
The full target size is 200 patient-weeks (``--patients 200 --weeks 1``, the default: about
29 GB of archive); the figures depend on the load of the machine, which is printed with them.
Every run also prints what 200 patient-weeks would take on this machine, extrapolated from its
own per-patient-week figures (an estimate, labelled as such).

Run: ``python benchmarks/reprocess_scale.py [--patients 200] [--weeks 1] [--workers 1,2]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import parser  # noqa: E402

START = dt.date(2026, 11, 2)  # a Monday
TODAY = None  # set from the cohort: the day after the programme
GB_PER_PATIENT_WEEK = 0.15
"""Archive size per patient-week (measured: 0.14 GB), for the free-space check."""
FULL_PATIENT_WEEKS = 200
"""The issue's target size, for the extrapolation."""
TARGET_SPEEDUP = 1.7
TARGET_WORKER_MB = 500.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cache(args: argparse.Namespace) -> Path:
    return Path(args.cache) / f"p{args.patients}-w{args.weeks}"


def _plans(args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    from adherence.cohort_synth import cohort_plans

    return cohort_plans(args.patients, START, 7 * args.weeks)


def build(args: argparse.Namespace) -> tuple[Path, int]:
    """Generate and archive the cohort (skipping subjects already archived); return its folder
    and how many subjects were built now."""
    from adherence.archive import archive_store
    from adherence.cohort_synth import fill_subject
    from ingest.store import Store

    root = _cache(args)
    root.mkdir(parents=True, exist_ok=True)
    doc, plans = _plans(args)
    (root / "plans.json").write_text(json.dumps(doc))
    built = 0
    for i, plan in enumerate(plans):
        done = root / "done" / plan.subject
        if done.exists():
            continue
        built += 1
        t0 = time.perf_counter()
        with (
            tempfile.TemporaryDirectory(dir=root) as tmp,
            Store(Path(tmp) / "s.sqlite", durable=False) as store,
        ):
            fill_subject(store, plan, wear_h=24.0, seed=i)
            archive_store(store, {plan.subject: plan.tz}, str(root / "archive"))
        done.parent.mkdir(exist_ok=True)
        done.touch()
        print(
            f"  built {plan.subject} ({i + 1}/{len(plans)}) in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    return root, built


def _today(plans: list[Any]) -> dt.date:
    return max(p.end_date for p in plans) + dt.timedelta(days=1)


def child_single(args: argparse.Namespace) -> None:
    """Child: every subject in turn in this process; print wall time and peak RSS as JSON."""
    from adherence.reprocess import reprocess_subject

    root = _cache(args)
    _, plans = _plans(args)
    out = root / "out-single"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    for plan in plans:
        reprocess_subject(str(root / "archive"), str(out), plan, _today(plans))
    print(json.dumps({"wall_s": time.perf_counter() - t0, "peak_mb": _peak_mb()}))


def run_dask(args: argparse.Namespace, n_workers: int) -> dict[str, Any]:
    """Reprocess the cohort on a fresh LocalCluster of ``n_workers`` processes."""
    from distributed import Client

    from adherence.cli.scale import local_cluster
    from adherence.reprocess import reprocess_cohort

    root = _cache(args)
    _, plans = _plans(args)
    out = root / f"out-dask{n_workers}"
    shutil.rmtree(out, ignore_errors=True)
    with (
        local_cluster(n_workers) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(n_workers)
        t0 = time.perf_counter()
        reprocess_cohort(
            client, str(root / "archive"), str(out), plans, today=_today(plans), progress=False
        )
        wall = time.perf_counter() - t0
        peaks = client.run(_peak_mb)
    return {"wall_s": wall, "peaks_mb": sorted(peaks.values())}


def _same_outputs(root: Path, a: str, b: str, subjects: list[str]) -> bool:
    from adherence.reprocess import TABLES, read_table

    return all(
        read_table(str(root / a), name, s) == read_table(str(root / b), name, s)
        for s in subjects
        for name in TABLES
    )


def main() -> int:
    """Build the cohort if needed, run the three paths, print the figures."""
    ap = parser(__doc__)
    ap.add_argument("--patients", type=int, default=200, help="patients in the cohort")
    ap.add_argument("--weeks", type=int, default=1, help="weeks of continuous wear per patient")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, comma separated")
    ap.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "adherence-reprocess-bench"),
        help="folder of built cohorts, reused when the same size is asked again",
    )
    ap.add_argument("--child-single", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_single:
        child_single(args)
        return 0
    pw = args.patients * args.weeks
    need_gb = pw * GB_PER_PATIENT_WEEK
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(args.cache).free / 2**30
    if not _cache(args).exists() and need_gb > 0.9 * free_gb:
        print(
            f"reprocess_scale: {pw} patient-weeks need about {need_gb:.0f} GB of archive, "
            f"{free_gb:.0f} GB free under {args.cache}: use fewer --patients or another --cache",
            file=sys.stderr,
        )
        return 2
    t0 = time.perf_counter()
    root, built = build(args)
    built_s = time.perf_counter() - t0
    _, plans = _plans(args)
    subjects = [p.subject for p in plans]
    load0 = os.getloadavg()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    single = json.loads(
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--child-single",
                "--patients",
                str(args.patients),
                "--weeks",
                str(args.weeks),
                "--cache",
                args.cache,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    runs = {int(n): run_dask(args, int(n)) for n in args.workers.split(",")}
    load1 = os.getloadavg()
    same = all(_same_outputs(root, "out-single", f"out-dask{n}", subjects) for n in runs)
    archive_gb = sum(f.stat().st_size for f in (root / "archive").rglob("*") if f.is_file()) / 2**30

    report(args, pw, archive_gb, (built, built_s), single, runs, (load0, load1), started)
    ok = same
    if 1 in runs and 2 in runs:
        speedup = runs[1]["wall_s"] / runs[2]["wall_s"]
        ok &= speedup >= TARGET_SPEEDUP
        print(f"  speed-up 2 vs 1 workers: {speedup:.2f}x (target >= {TARGET_SPEEDUP}x)")
    worst = max(max(r["peaks_mb"]) for r in runs.values())
    ok &= worst <= TARGET_WORKER_MB
    print(f"  peak RSS per worker: max {worst:.0f} MB (target <= {TARGET_WORKER_MB:.0f} MB)")
    print(f"  outputs identical to the single-process path: {'yes' if same else 'NO'}")
    print("  PASS" if ok else "  MISS")
    return 0 if ok else 1


def report(
    args: argparse.Namespace,
    pw: int,
    archive_gb: float,
    build: tuple[int, float],
    single: dict[str, Any],
    runs: dict[int, dict[str, Any]],
    loads: tuple[tuple[float, ...], tuple[float, ...]],
    started: str,
) -> None:
    """Print the measured figures and the extrapolation to :data:`FULL_PATIENT_WEEKS`."""
    built, built_s = build
    build_pw = built_s / (built * args.weeks) if built else float("nan")
    print(
        f"reprocess_scale: {pw} patient-weeks ({args.patients} patients x {args.weeks} week(s)) "
        f"of continuous 50 Hz wear + exercise sessions"
    )
    print(
        f"  archive {archive_gb:.2f} GB ({archive_gb / pw:.3f} GB/patient-week); built "
        + (
            f"{built} patient(s) in {built_s:.0f} s ({build_pw:.1f} s/patient-week)"
            if built
            else "earlier (cached)"
        )
    )
    print(
        f"  run at {started} on {os.cpu_count()} CPU(s); load average before {loads[0][0]:.1f}, "
        f"after {loads[1][0]:.1f}"
    )
    print(f"  {'path':<16} {'wall s':>8} {'s/patient-week':>15} {'peak RSS/worker MB':>20}")
    print(
        f"  {'single process':<16} {single['wall_s']:8.1f} {single['wall_s'] / pw:15.2f} "
        f"{single['peak_mb']:20.0f}"
    )
    for n, r in runs.items():
        peaks = "/".join(f"{p:.0f}" for p in r["peaks_mb"])
        print(
            f"  {f'dask {n} worker' + ('s' if n > 1 else ''):<16} {r['wall_s']:8.1f} "
            f"{r['wall_s'] / pw:15.2f} {peaks:>20}"
        )
    full = FULL_PATIENT_WEEKS
    paths = [("single process", single["wall_s"])] + [
        (f"dask {n} worker" + ("s" if n > 1 else ""), r["wall_s"]) for n, r in runs.items()
    ]
    hours = {name: wall / pw * full / 3600 for name, wall in paths}
    # A cached archive has no build time of its own to extrapolate from: leave it out.
    build_h = build_pw * full / 3600 if math.isfinite(build_pw) else 0.0
    build_text = f"build {build_h:.1f} h; " if build_h else "build not timed (cached archive); "
    print(
        f"  ESTIMATE (extrapolated from this run, not measured) for {full} patient-weeks: "
        f"archive {archive_gb / pw * full:.0f} GB; {build_text}"
        + "; ".join(f"{name} {h:.1f} h" for name, h in hours.items())
        + f"; all paths in turn {build_h + sum(hours.values()):.1f} h"
    )


if __name__ == "__main__":
    sys.exit(main())
