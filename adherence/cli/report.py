"""``adherence report``: the coach's self-contained HTML adherence report (see :mod:`adherence.report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adherence.cli.options import (
    SubParsers,
    add_command,
    add_plans,
    add_store,
    add_today,
    open_existing_store,
)

REPORT_HELP = "write the coach's self-contained HTML adherence report"
REPORT_DESCRIPTION = (
    "Write one HTML page (no network needed to open it): patients sorted by "
    "risk with flags and reasons, and per patient charts of adherence, steps against goal, "
    "and sessions and repetitions against plan."
)


def run_report(args: argparse.Namespace) -> int:
    """Run ``adherence report`` from parsed arguments; return the exit code (0)."""
    from adherence.plan import load_plans
    from adherence.report import patient_views, write_report

    plans = load_plans(args.plans)
    with open_existing_store(args.store) as store:
        path = write_report(store, plans, args.out, today=args.today, title=args.title)
        views = patient_views(store, plans, today=args.today)
    risks = ", ".join(f"{v.plan.subject} {v.risk}" for v in views)
    print(f"report for {len(views)} patient(s) written to {path} ({risks})")
    return 0


def register(sub: SubParsers) -> None:
    """Add ``adherence report`` to the command line."""
    p = add_command(sub, "report", REPORT_HELP, REPORT_DESCRIPTION)
    add_store(p, required=True)
    add_plans(p, required=True)
    p.add_argument("--out", type=Path, default=Path("report.html"), help="output HTML file")
    add_today(p)
    p.add_argument("--title", default="Adherence report", help="page title")
    p.set_defaults(func=run_report)
