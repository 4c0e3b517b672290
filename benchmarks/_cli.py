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
