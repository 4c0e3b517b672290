"""``adherence export``: pseudonymised researcher exports (a thin shell over :mod:`adherence.export`)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from adherence.export import FORMATS, export
from adherence.plan import load_plans
from adherence.pseudonym import load_key
from devices.errors import ConfigError, DataFileError
from ingest.store import Store


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def open_existing_store(path: Path) -> Store:
    """Open a store that must already exist (a typo must not create an empty store)."""
    if not path.is_file():
        raise DataFileError(str(path), "store not found")
    return Store(path, create=False)


def run_export(args: argparse.Namespace) -> int:
    """Run ``adherence export`` from parsed arguments; return the exit code (0)."""
    key = load_key(key_file=args.key_file, key_env=args.key_env)
    plans = load_plans(args.plans) if args.plans is not None else None
    with open_existing_store(args.store) as store:
        result = export(
            store,
            args.out,
            key=key,
            fmt=args.format,
            subjects=args.subject,
            start=args.date_from,
            end=args.date_to,
            plans=plans,
            progress=not args.no_progress,
        )
    counts = ", ".join(f"{k} {v}" for k, v in result.rows.items())
    print(f"exported {len(result.subjects)} subject(s) to {result.out_dir}: {counts}")
    return 0


def register(sub: Any, groups: Any) -> None:
    """Add ``adherence export`` to the command line."""
    p = sub.add_parser(
        "export",
        help="export pseudonymised tables for researchers (CSV, CSV.gz, Parquet, Open mHealth)",
        description="Export per-minute, per-day, per-session, per-set, per-repetition and bout "
        "tables, an info.json and Open mHealth step counts. Ids are always pseudonymised with "
        "an HMAC key read from a file or an environment variable.",
    )
    p.add_argument("--store", type=Path, required=True, help="store file")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=FORMATS, default="csv", help="table format (default csv)")
    p.add_argument("--from", dest="date_from", type=_date, help="first local day YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=_date, help="last local day YYYY-MM-DD")
    p.add_argument(
        "--subject", action="append", help="export only this subject (repeatable; raw id)"
    )
    p.add_argument("--plans", type=Path, help="care plans (time zones and step goals)")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--key-file", type=Path, help="file holding the pseudonymisation key")
    keys.add_argument("--key-env", metavar="VAR", help="environment variable holding the key")
    p.add_argument("--no-progress", action="store_true", help="do not show progress")

    def _run(args: argparse.Namespace) -> int:
        if args.key_file is None and args.key_env is None:
            raise ConfigError(
                "pseudonym key",
                "",
                "exports are always pseudonymised: give --key-file FILE or --key-env VAR",
            )
        return run_export(args)

    p.set_defaults(func=_run)
