"""The ``adherence`` command: a thin shell over library functions.

Each capability registers its own subcommands from its own module (listed in
:data:`COMMAND_MODULES`); each module has ``register(sub, groups)`` where ``sub`` is the top-level
subparsers object and ``groups`` maps ``"collect"`` / ``"simulate"`` to their nested subparsers.
A registered parser sets ``func(args) -> int``.

Errors from the library (:class:`devices.errors.AdherenceError`) become one line on stderr and
exit code 2; nothing is printed as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from devices.errors import AdherenceError

COMMAND_MODULES: tuple[str, ...] = (
    "adherence.demo",
    "adherence.export_cli",
    "adherence.report_cli",
    "adherence.score_cli",
    "adherence.serve",
    "adherence.mqtt_cli",
    "adherence.ble_cli",
    "adherence.session_cli",
    "adherence.scale_cli",
)

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="adherence",
        description="Wearable sensor ingest, step and repetition counting, adherence scoring.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for name, help_text in (
        ("collect", "collect sensor data from BLE devices or an MQTT broker"),
        ("simulate", "simulate devices publishing recordings"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        g = p.add_subparsers(dest="source", metavar="SOURCE")
        g.required = True
        groups[name] = g
    for mod_name in COMMAND_MODULES:
        importlib.import_module(mod_name).register(sub, groups)
    for name, g in groups.items():
        if not g.choices:
            sub.choices.pop(name, None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``adherence`` console command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except AdherenceError as exc:
        print(f"adherence: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("adherence: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
