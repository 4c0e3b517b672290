"""``adherence score``: recompute adherence scores from the store for a date range and subjects.

Writes the ``scores`` table and, with ``--sink NAME`` (repeatable), queues the InfluxDB points in
that sink's outbox (``adherence serve`` delivers them). Prints one line per subject, or JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adherence.cli.options import (
    SubParsers,
    add_command,
    add_dates,
    add_plans,
    add_store,
    add_today,
)

if TYPE_CHECKING:
    from adherence.scoring import ProgrammeSummary, SubjectReport

__all__ = ["register", "format_report"]


SCORE_HELP = "recompute adherence scores from the store"
SCORE_DESCRIPTION = "Recompute adherence scores from the store for a date range and subjects."


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{round(100 * x)}%"


def _programme_text(p: ProgrammeSummary) -> str:
    """``programme 99.9; pain 3.4 vs baseline 5.6 (-2.2 points, -39%, clinically important)``."""
    comp = "n/a" if p.programme_composite is None else f"{p.programme_composite:.1f}"
    if p.pain_last_7d is None or p.pain_baseline is None:
        return f"programme {comp}; pain: no baseline yet"
    change = ""
    if p.pain_change_points is not None and p.pain_change_pct is not None:
        better = ", clinically important improvement" if p.pain_improved else ""
        change = f" ({p.pain_change_points:+.1f} points, {p.pain_change_pct:+.0f}%{better})"
    return f"programme {comp}; pain {p.pain_last_7d:.1f} vs baseline {p.pain_baseline:.1f}{change}"


def format_report(r: SubjectReport) -> str:
    """One human-readable line for a subject's latest scored day."""
    if r.day is None:
        return f"{r.subject}: no scored day in the range"
    composite = "n/a" if r.composite is None else f"{r.composite:.1f}"
    trend = "n/a" if r.trend_7d is None else f"{r.trend_7d:+.1f}"
    since = "never" if r.days_since_last_session is None else f"{r.days_since_last_session} d"
    text = (
        f"{r.subject} as of {r.as_of()}: composite {composite} (7-day trend {trend}); "
        f"exercise {_pct(r.weekly_exercise_adherence)} ({r.sessions_done}/{r.sessions_planned} "
        f"sessions); steps {_pct(r.step_goal_attainment)}; streak {r.streak_days} d; "
        f"last session {since}"
    )
    if r.programme is not None:
        text += "\n  " + _programme_text(r.programme)
    for f in r.flags:
        text += f"\n  FLAG {f.code}: {f.reason}"
    return text


def _run(args: argparse.Namespace) -> int:
    from adherence.config import load_config
    from adherence.pipeline import derive_plan_days
    from adherence.plan import load_plans
    from adherence.scoring import rescore
    from devices.errors import ConfigError
    from ingest.store import Store

    store_path: Path | None = args.store
    plans_path: Path | None = args.plans
    if args.config is not None:
        cfg = load_config(args.config)
        store_path = store_path or cfg.store
        plans_path = plans_path or cfg.care_plans
    if store_path is None or plans_path is None:
        raise ConfigError("arguments", "score", "give --config, or both --store and --plans")
    plans = load_plans(plans_path)
    with Store(store_path, create=False) as store:
        wanted = set(args.subject or [p.subject for p in plans])
        for plan in plans:
            if plan.subject not in wanted:
                continue
            derive_plan_days(store, plan, args.start or plan.start_date, args.end or plan.end_date)
        reports = rescore(
            store,
            plans,
            start=args.start,
            end=args.end,
            subjects=args.subject or None,
            today=args.today,
            sinks=args.sink or (),
        )
        for name in args.sink or ():
            print(
                f"{name}: {store.outbox_size(name)} point(s) waiting in the outbox", file=sys.stderr
            )
    if args.json:
        rows: list[dict[str, Any]] = []
        for r in reports:
            d = dataclasses.asdict(r)
            d["day"] = None if r.day is None else r.day.isoformat()
            rows.append(d)
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        for r in reports:
            print(format_report(r))
    return 0


def register(sub: SubParsers) -> None:
    """Add ``adherence score`` to the command line."""
    p = add_command(sub, "score", SCORE_HELP, SCORE_DESCRIPTION)
    p.add_argument("--config", type=Path, metavar="FILE", help="serve configuration (store, plans)")
    add_store(p)
    add_plans(p)
    add_dates(p)
    p.add_argument("--subject", action="append", metavar="ID", help="only this subject (repeat)")
    add_today(p)
    p.add_argument(
        "--sink", action="append", metavar="NAME", help="queue InfluxDB points for this sink"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_run)
