"""``adherence demo``: replay ``sample_data/`` through the whole chain into the embedded store.

decode (recording files → frames) → store → steps, sessions and repetitions, daily summaries →
adherence scores, then a per-patient table. Needs no server and no network.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from adherence.cli.options import SubParsers, add_command, add_store

if TYPE_CHECKING:
    from adherence.scoring import ProgrammeSummary
    from devices.recording import Recording
    from ingest.store import Store

DEFAULT_STORE = Path("adherence-demo.sqlite")


def find_sample_data() -> Path:
    """The ``sample_data`` folder: beside the source tree, or installed under ``<prefix>/share``."""
    from devices.errors import DataFileError

    here = Path(__file__).resolve().parents[2] / "sample_data"
    installed = Path(sys.prefix) / "share" / "adherence-pipeline" / "sample_data"
    for cand in (here, installed):
        if (cand / "care_plans.json").is_file():
            return cand
    raise DataFileError(str(here), "sample data not found (nor in the installed share/ folder)")


def truth_checks(recordings: list[Recording], store: Store) -> list[str]:
    """Lines comparing counted steps and repetitions with the recordings' independent truth."""
    lines = []
    for rec in recordings:
        truth = rec.meta.get("truth") or {}
        if rec.kind == "walk" and "steps" in truth:
            t0, t1 = int(rec.t_ns[0]), int(rec.t_ns[-1]) + 1
            got = sum(b.steps for b in store.bouts(rec.subject, t0, t1))
            err = abs(got - truth["steps"]) / truth["steps"]
            lines.append(
                f"  {rec.name:<34} steps {got:>5} (truth {truth['steps']:>5}, error {err:.1%})"
            )
        elif rec.kind == "exercise" and "reps_per_set" in truth:
            sid = rec.meta["session_id"]
            sess = [s for s in store.sessions(rec.subject) if s.session_id == sid]
            got_sets = [len(s.reps) for s in sess[0].sets] if sess else []
            lines.append(
                f"  {rec.name:<34} reps {got_sets!s:<10} (truth {truth['reps_per_set']}, synthetic)"
            )
    return lines


def _fmt(value: float | None, pattern: str, missing: str = "-") -> str:
    return missing if value is None else format(value, pattern)


def _pain(pr: ProgrammeSummary | None) -> str:
    """``-2.2 pt (-39%) *``: last-7-day pain minus baseline, NRS points and percent; ``*`` marks a
    clinically important improvement (docs/scoring.md)."""
    if pr is None or pr.pain_change_points is None or pr.pain_change_pct is None:
        return "-"
    star = " *" if pr.pain_improved else ""
    return f"{pr.pain_change_points:+.1f} pt ({pr.pain_change_pct:+.0f}%){star}"


def run_demo(
    data_dir: Path, store_path: Path, *, progress: bool = True, verbose: bool = False
) -> int:
    """Run the demo; return the exit code. Raises AdherenceError on bad input (nothing stored)."""
    from adherence.found_sessions import plan_exercises
    from adherence.pipeline import (
        check_subjects_planned,
        derive,
        import_recordings,
        read_recordings,
    )
    from adherence.plan import load_plans
    from adherence.programme_files import import_programme_events, read_programme_events
    from adherence.progress import Progress
    from adherence.scoring import rescore
    from ingest.store import Store

    t_start = time.monotonic()
    plans = load_plans(data_dir / "care_plans.json")
    recordings = read_recordings(data_dir / "recordings")
    programme = read_programme_events(data_dir / "programme")
    check_subjects_planned(
        [r.subject for r in recordings] + [e.subject for e in programme],
        [p.subject for p in plans],
        str(data_dir),
    )
    with Store(store_path) as store:
        imported = import_recordings(store, recordings, progress=progress)
        import_programme_events(store, programme)
        bar = Progress(len(plans), "deriving", enabled=progress)
        for plan in plans:
            derive(store, plan.subject, plan.tz, days=plan.days(), exercises=plan_exercises(plan))
            bar.advance(note=plan.subject)
        # Score as of the day after the programme: every day is complete, so the table is the
        # same on any date and equals `adherence score` (and the report) run after the programme.
        as_of = max(p.end_date for p in plans) + dt.timedelta(days=1)
        reports = rescore(store, plans, today=as_of)
        print()
        print(
            f"{imported.recordings} recordings, {imported.frames_total} frames"
            f" ({imported.frames_new} new) from {data_dir}"
        )
        print()
        header = (
            f"{'patient':<8} {'day':<10} {'score':>5} {'sessions 7d':>11} {'reps':>5}"
            f" {'exercise 7d':>11} {'steps/goal 7d':>13} {'streak':>6} {'days since':>10}"
            f" {'programme':>9} {'pain vs baseline':>16}"
        )
        print(header)
        print("-" * len(header))
        for r in reports:
            pr = r.programme
            reps = sum(x.reps for x in store.sessions(r.subject))
            print(
                f"{r.subject:<8} {r.day.isoformat() if r.day else '-':<10}"
                f" {_fmt(r.composite, '5.0f'):>5} {f'{r.sessions_done}/{r.sessions_planned}':>11}"
                f" {reps:>5} {_fmt(r.weekly_exercise_adherence, '.0%'):>11}"
                f" {_fmt(r.step_goal_attainment, '.0%'):>13} {r.streak_days:>6}"
                f" {_fmt(r.days_since_last_session, 'd'):>10}"
                f" {_fmt(None if pr is None else pr.programme_composite, '9.0f'):>9} {_pain(pr):>16}"
            )
            for f in r.flags:
                print(f"{'':<8} ! {f.reason}")
        print(f"\nas of {as_of.isoformat()}: every programme day is complete (final scores)")
        print("programme: whole-programme score; * a clinically important pain improvement")
        if verbose:
            print("\ncounted against the recordings' truth:")
            for line in truth_checks(recordings, store):
                print(line)
        print(f"\nstore: {store_path.resolve()}  ({time.monotonic() - t_start:.1f} s)")
    return 0


def register(sub: SubParsers) -> None:
    """Add ``adherence demo`` to the command line."""
    p = add_command(
        sub, "demo", "replay sample_data/ through the whole chain into a local store", __doc__
    )
    p.add_argument(
        "--data", type=Path, default=None, help="sample data folder (None: the bundled one)"
    )
    add_store(p, default=DEFAULT_STORE)
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.add_argument("--truth", action="store_true", help="compare counts with the recordings' truth")

    def _run(args: argparse.Namespace) -> int:
        data = args.data if args.data is not None else find_sample_data()
        return run_demo(data, args.store, progress=not args.no_progress, verbose=args.truth)

    p.set_defaults(func=_run)
