"""``adherence serve``: collectors, scoring and InfluxDB delivery from one configuration file.

The service itself is :func:`adherence.serve.serve`; this module parses the command line and
turns SIGTERM and SIGINT into a clean stop.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from adherence.cli.options import SubParsers, add_command

SERVE_HELP = "run collectors, scoring and InfluxDB delivery from a configuration file"
SERVE_DESCRIPTION = "Run collectors, scoring and InfluxDB delivery from one configuration file."


def _run(args: argparse.Namespace) -> int:
    from adherence.config import load_config
    from adherence.serve import serve

    cfg = load_config(Path(args.config))
    stop = threading.Event()
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        return serve(cfg, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(sub: SubParsers) -> None:
    """Add ``adherence serve`` to the command line."""
    p = add_command(sub, "serve", SERVE_HELP, SERVE_DESCRIPTION)
    p.add_argument("--config", required=True, metavar="FILE", help="TOML configuration file")
    p.set_defaults(func=_run)
