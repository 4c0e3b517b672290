"""``adherence score``: recompute adherence scores from the store for a date range and subjects.

Writes the ``scores`` table and, with ``--sink NAME`` (repeatable), queues the InfluxDB points in
that sink's outbox (``adherence serve`` delivers them). Prints one line per subject, or JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from adherence.config import load_config
from adherence.pipeline import derive
from adherence.plan import load_plans
from adherence.scoring import SubjectReport, rescore
from devices.errors import ConfigError
from ingest.store import Store

__all__ = ["register", "format_report"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{round(100 * x)}%"


def format_report(r: SubjectReport) -> str:
    """One human-readable line for a subject's latest scored day."""
    if r.day is None:
        return f"{r.subject}: no scored day in the range"
    composite = "n/a" if r.composite is None else f"{r.composite:.1f}"
    trend = "n/a" if r.trend_7d is None else f"{r.trend_7d:+.1f}"
    since = "never" if r.days_since_last_session is None else f"{r.days_since_last_session} d"
    text = (
        f"{r.subject} {r.day.isoformat()}: composite {composite} (7-day trend {trend}); "
        f"exercise {_pct(r.weekly_exercise_adherence)} ({r.sessions_done}/{r.sessions_planned} "
        f"sessions); steps {_pct(r.step_goal_attainment)}; streak {r.streak_days} d; "
        f"last session {since}"
    )
    for f in r.flags:
        text += f"\n  FLAG {f.code}: {f.reason}"
    return text


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def _run(args: argparse.Namespace) -> int:
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
            first = args.start or plan.start_date
            last = args.end or plan.end_date
            derive(
                store,
                plan.subject,
                plan.tz,
                days=[d for d in plan.days() if first <= d <= last],
                start_ns=plan.day_bounds_ns(first)[0],
                end_ns=plan.day_bounds_ns(last)[1],
            )
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


def register(sub: Any, groups: Any) -> None:
    """Add ``adherence score`` to the command line."""
    p = sub.add_parser(
        "score",
        help="recompute adherence scores from the store",
        description="Recompute adherence scores from the store for a date range and subjects.",
    )
    p.add_argument("--config", type=Path, metavar="FILE", help="serve configuration (store, plans)")
    p.add_argument("--store", type=Path, metavar="PATH", help="the local store (SQLite file)")
    p.add_argument("--plans", type=Path, metavar="FILE", help="care plans (JSON)")
    p.add_argument("--from", dest="start", type=_date, metavar="DATE", help="first local day")
    p.add_argument("--to", dest="end", type=_date, metavar="DATE", help="last local day")
    p.add_argument("--subject", action="append", metavar="ID", help="only this subject (repeat)")
    p.add_argument("--today", type=_date, metavar="DATE", help="score as if today were DATE")
    p.add_argument(
        "--sink", action="append", metavar="NAME", help="queue InfluxDB points for this sink"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_run)
