"""The benchmarks' command line: ``--help`` prints the module docstring as written and every
option's default, and runs nothing."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring kept as written (its tables and lists), each option with its default; a
    flag's default is "off" (it is not given), whatever the attribute it sets holds."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0 and action.help and action.dest != "help":
            return f"{action.help} (default: off)"
        return super()._get_help_string(action)


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by a benchmark's module docstring ``doc``."""
    return argparse.ArgumentParser(description=doc, formatter_class=HelpFormatter)


def add_simulation(ap: argparse.ArgumentParser, *, seconds: float, speed: float) -> None:
    """The options of a benchmark that runs ``adherence simulate mqtt``: devices, seconds of
    data per device, and the speed (x real time; 0 = as fast as possible)."""
    ap.add_argument("--devices", type=int, default=200, help="simulated devices")
    ap.add_argument("--seconds", type=float, default=seconds, help="seconds of data per device")
    ap.add_argument(
        "--speed", type=float, default=speed, help="x real time, 0 = as fast as possible"
    )
