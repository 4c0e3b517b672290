"""The ``adherence`` command: a thin shell over library functions.

One module per command or group, each with a typed ``register(...)`` called explicitly below:
:mod:`~adherence.cli.demo`, :mod:`~adherence.cli.mqtt` and :mod:`~adherence.cli.ble` (``collect``
and ``simulate``), :mod:`~adherence.cli.session`, :mod:`~adherence.cli.score`,
:mod:`~adherence.cli.serve`, :mod:`~adherence.cli.export`, :mod:`~adherence.cli.report`. Options
used by several commands live in :mod:`~adherence.cli.options`. A registered parser sets
``func(args) -> int``.

Start-up is lazy: building the parser imports only the standard library; each command imports
the library it runs (numpy, pandas, paho, bleak, ...) inside its function, so ``adherence --help``
answers at once (``python benchmarks/cli_startup.py`` measures it).

Errors from the library (:class:`devices.errors.AdherenceError`) become one line on stderr and
exit code 2; nothing is printed as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from adherence.cli import ble, demo, export, mqtt, report, score, serve, session
from adherence.cli.options import HelpFormatter, SubParsers, add_command

__all__ = ["EXIT_USAGE", "build_parser", "main"]

EXIT_USAGE = 2


def _group(sub: SubParsers, name: str, help_text: str) -> SubParsers:
    """A command group such as ``collect``, whose subcommands are the sources."""
    g = add_command(sub, name, help_text).add_subparsers(dest="source", metavar="SOURCE")
    g.required = True
    return g


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand (imports no heavy library)."""
    parser = argparse.ArgumentParser(
        prog="adherence",
        description="Wearable sensor ingest, step and repetition counting, adherence scoring.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    collect = _group(sub, "collect", "collect sensor data from BLE devices or an MQTT broker")
    simulate = _group(sub, "simulate", "simulate devices publishing recordings")
    demo.register(sub)
    export.register(sub)
    report.register(sub)
    score.register(sub)
    serve.register(sub)
    mqtt.register(collect, simulate)
    ble.register(collect, simulate)
    session.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``adherence`` console command; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from devices.errors import AdherenceError  # after parsing: devices imports numpy

    try:
        return int(args.func(args))
    except AdherenceError as exc:
        print(f"adherence: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("adherence: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `adherence score | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
