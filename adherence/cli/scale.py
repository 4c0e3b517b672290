"""``adherence archive`` and ``adherence reprocess``: the raw archive and cohort reprocessing.

``archive`` writes a store's frames and sessions to a Parquet dataset (:mod:`adherence.archive`);
``reprocess`` recomputes every planned subject from that archive on a Dask cluster
(:mod:`adherence.reprocess`): a scheduler given by ``--scheduler tcp://host:8786`` or a local
cluster of ``--workers N`` processes started for the run. Libraries are imported when a command
runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adherence.cli.options import (
    SubParsers,
    add_command,
    add_plans,
    add_store,
    add_today,
    open_existing_store,
)

if TYPE_CHECKING:
    from distributed import LocalCluster

__all__ = ["LOOPBACK_FREE_PORT", "local_cluster", "register"]

LOOPBACK_FREE_PORT = "127.0.0.1:0"
"""Where a local cluster's scheduler serves HTTP (``/health``, ``/metrics``, the dashboard when
bokeh is installed): a free loopback port. With ``dashboard_address=None`` distributed still
starts that server, on the fixed port 8787, and warns and moves when another cluster holds it."""


def local_cluster(n_workers: int, **kwargs: Any) -> LocalCluster:
    """A Dask ``LocalCluster`` of ``n_workers`` worker processes with one thread each, every
    port (scheduler, workers, HTTP) free and chosen by the system; ``kwargs`` go to it."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=LOOPBACK_FREE_PORT,
        **kwargs,
    )


def _run_archive(args: argparse.Namespace) -> int:
    from adherence.archive import DEFAULT_SOURCE, archive_store
    from adherence.plan import load_plans
    from adherence.progress import Progress

    plans = load_plans(args.plans)
    with open_existing_store(args.store) as store:
        subjects = args.subject or store.subjects()
        bar = Progress(len(subjects), "archiving", enabled=not args.quiet)
        result = archive_store(
            store,
            {p.subject: p.tz for p in plans},
            args.out,
            subjects=subjects,
            source=args.source or DEFAULT_SOURCE,
            on_subject=lambda s: bar.advance(note=s),
        )
    print(
        f"archive {args.out}: {result.subjects} subject(s), {result.frames} frame(s) and "
        f"{result.sessions} session(s) in {result.files} file(s)"
    )
    return 0


def _client(args: argparse.Namespace) -> tuple[Any, Any]:
    import logging

    from distributed import Client

    if args.scheduler:
        return Client(args.scheduler), None
    cluster = local_cluster(args.workers, silence_logs=logging.WARNING)
    return Client(cluster), cluster


def _run_reprocess(args: argparse.Namespace) -> int:
    from adherence.plan import load_plans
    from adherence.reprocess import load_outputs, reprocess_cohort
    from devices.errors import ConfigError
    from ingest.store import Store

    if args.workers < 1:
        raise ConfigError("arguments", "--workers", f"must be >= 1, got {args.workers}")
    if args.sink and args.load_store is None:
        raise ConfigError("arguments", "--sink", "needs --load-store (points queue in a store)")
    plans = load_plans(args.plans)
    if args.subject:
        plans = [p for p in plans if p.subject in set(args.subject)]
    client, cluster = _client(args)
    try:
        outcomes = reprocess_cohort(
            client, args.archive, args.out, plans, today=args.today, progress=not args.quiet
        )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    for o in outcomes:
        rows = ", ".join(f"{k} {v}" for k, v in o.rows.items())
        print(f"{o.subject}: {o.frames} frame(s) -> {rows}")
    if args.load_store is not None:
        with Store(args.load_store) as store:
            load_outputs(store, args.out, plans, today=args.today, sinks=args.sink or ())
            for name in args.sink or ():
                print(f"{name}: {store.outbox_size(name)} point(s) waiting in the outbox")
    print(f"output {args.out}: {len(outcomes)} subject(s)", file=sys.stderr)
    return 0


def register(sub: SubParsers) -> None:
    """Add ``adherence archive`` and ``adherence reprocess`` to the command line."""
    p = add_command(
        sub,
        "archive",
        "write the store's raw frames to a Parquet archive",
        "Write raw frames and sessions to a Parquet dataset partitioned by subject and local "
        "date (hive style), idempotently, to a folder or an fsspec URL.",
    )
    add_store(p, required=True)
    add_plans(p, required=True, help_text="care plans (JSON): the subjects' time zones")
    p.add_argument("--out", required=True, metavar="URL", help="archive folder or fsspec URL")
    p.add_argument("--subject", action="append", metavar="ID", help="only this subject (repeat)")
    p.add_argument(
        "--source",
        metavar="NAME",
        help="this store's name in the archive, one per gateway (default: main)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=_run_archive)

    p = add_command(
        sub,
        "reprocess",
        "recompute a cohort from the archive on Dask",
        "Recompute steps, wear, bouts, sessions and repetitions, daily summaries and scores per "
        "subject from the Parquet archive on a Dask cluster; write Parquet.",
    )
    p.add_argument("--archive", required=True, metavar="URL", help="the raw archive")
    add_plans(p, required=True)
    p.add_argument("--out", required=True, metavar="URL", help="output folder or fsspec URL")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://host:8786")
    where.add_argument(
        "--workers", type=int, default=2, metavar="N", help="local worker processes (default 2)"
    )
    p.add_argument("--subject", action="append", metavar="ID", help="only this subject (repeat)")
    add_today(p)
    p.add_argument("--load-store", type=Path, metavar="PATH", help="load the results into a store")
    p.add_argument(
        "--sink", action="append", metavar="NAME", help="with --load-store: queue InfluxDB points"
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=_run_reprocess)
