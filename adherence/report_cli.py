"""``adherence report``: the coach's self-contained HTML adherence report (see :mod:`adherence.report`)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from adherence.plan import load_plans
from adherence.report import patient_views, write_report
from devices.errors import DataFileError
from ingest.store import Store


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def run_report(args: argparse.Namespace) -> int:
    """Run ``adherence report`` from parsed arguments; return the exit code (0)."""
    plans = load_plans(args.plans)
    if not args.store.is_file():
        raise DataFileError(str(args.store), "store not found")
    with Store(args.store, create=False) as store:
        path = write_report(store, plans, args.out, today=args.today, title=args.title)
        views = patient_views(store, plans, today=args.today)
    risks = ", ".join(f"{v.plan.subject} {v.risk}" for v in views)
    print(f"report for {len(views)} patient(s) written to {path} ({risks})")
    return 0


def register(sub: Any, groups: Any) -> None:
    """Add ``adherence report`` to the command line."""
    p = sub.add_parser(
        "report",
        help="write the coach's self-contained HTML adherence report",
        description="Write one HTML page (no network needed to open it): patients sorted by "
        "risk with flags and reasons, and per patient charts of adherence, steps against goal, "
        "and sessions and repetitions against plan.",
    )
    p.add_argument("--store", type=Path, required=True, help="store file")
    p.add_argument("--plans", type=Path, required=True, help="care plans file (JSON)")
    p.add_argument("--out", type=Path, default=Path("report.html"), help="output HTML file")
    p.add_argument(
        "--today", type=_date, default=None, help="score as of this local day (default: today)"
    )
    p.add_argument("--title", default="Adherence report", help="page title")
    p.set_defaults(func=run_report)
