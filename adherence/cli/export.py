"""``adherence export``: pseudonymised researcher exports (a thin shell over :mod:`adherence.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adherence.cli.options import (
    SubParsers,
    add_command,
    add_dates,
    add_plans,
    add_store,
    open_existing_store,
)

FORMATS = ("csv", "csv.gz", "parquet")
"""Table formats, as :data:`adherence.export.FORMATS` (not imported: it needs pandas)."""


EXPORT_HELP = "export pseudonymised tables for researchers (CSV, CSV.gz, Parquet, Open mHealth)"
EXPORT_DESCRIPTION = (
    "Export per-minute, per-day, per-session, per-set, per-repetition and bout "
    "tables, an info.json and Open mHealth step counts. Ids are always pseudonymised with "
    "an HMAC key read from a file or an environment variable."
)


def run_export(args: argparse.Namespace) -> int:
    """Run ``adherence export`` from parsed arguments; return the exit code (0)."""
    from adherence.export import export
    from adherence.plan import load_plans
    from adherence.pseudonym import load_key

    key = load_key(key_file=args.key_file, key_env=args.key_env)
    plans = load_plans(args.plans) if args.plans is not None else None
    with open_existing_store(args.store) as store:
        result = export(
            store,
            args.out,
            key=key,
            fmt=args.format,
            subjects=args.subject,
            start=args.start,
            end=args.end,
            plans=plans,
            progress=not args.no_progress,
        )
    counts = ", ".join(f"{k} {v}" for k, v in result.rows.items())
    print(f"exported {len(result.subjects)} subject(s) to {result.out_dir}: {counts}")
    return 0


def register(sub: SubParsers) -> None:
    """Add ``adherence export`` to the command line."""
    p = add_command(sub, "export", EXPORT_HELP, EXPORT_DESCRIPTION)
    add_store(p, required=True)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=FORMATS, default="csv", help="table format")
    add_dates(p)
    p.add_argument(
        "--subject", action="append", help="export only this subject (repeatable; raw id)"
    )
    add_plans(p, help_text="care plans (time zones and step goals)")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--key-file", type=Path, help="file holding the pseudonymisation key")
    keys.add_argument("--key-env", metavar="VAR", help="environment variable holding the key")
    p.add_argument("--no-progress", action="store_true", help="do not show progress")

    def _run(args: argparse.Namespace) -> int:
        from devices.errors import ConfigError

        if args.key_file is None and args.key_env is None:
            raise ConfigError(
                "pseudonym key",
                "",
                "exports are always pseudonymised: give --key-file FILE or --key-env VAR",
            )
        return run_export(args)

    p.set_defaults(func=_run)
