"""Every benchmark answers ``--help`` with its usage and runs nothing (a benchmark can take
minutes to hours: asking what it does must not start it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith("_"))


def test_every_benchmark_is_listed() -> None:
    assert len(SCRIPTS) >= 15


def test_option_blocks_are_read_from_the_options_section() -> None:
    usage = "usage: x [-h] [--n N]\n\ndoc\n\noptions:\n  -h, --help  show\n  --n N       how\n              many (default: 3)\n"
    assert _option_blocks(usage) == ["-h, --help  show", "--n N       how many (default: 3)"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_help_prints_usage_and_exits_0(script: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: "), out.stdout[:200]
    # the description is the module docstring (its first line at least), so --help says what
    # the benchmark measures
    doc = ast.get_docstring(ast.parse(script.read_text()))
    assert doc, f"{script.name} has no module docstring"
    first = " ".join(doc.splitlines()[0].split())
    assert first in " ".join(out.stdout.split())
    for block in _option_blocks(out.stdout):
        if not block.startswith("-h, --help"):
            assert "(default: " in block, f"{script.name}: no default shown for {block!r}"


def _option_blocks(usage: str) -> list[str]:
    """The text of each option listed under ``options:``, joined over its wrapped lines."""
    blocks: list[str] = []
    body = usage.split("\noptions:\n", 1)[1] if "\noptions:\n" in usage else ""
    for line in body.splitlines():
        if line.startswith("  -"):
            blocks.append(line.strip())
        elif blocks and line.startswith(" "):
            blocks[-1] += " " + line.strip()
    return blocks
