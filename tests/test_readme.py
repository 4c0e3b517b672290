"""Every command in the README runs as written, in order, in a fresh folder beside the sample data.

The README is read the way a newcomer reads it: each ``sh`` block top to bottom, after the demo
(its first block runs ``scripts/demo.sh``, i.e. ``adherence demo``). Each command is run for real
in one temporary folder that holds only ``sample_data/`` (a link to the repository's), as if in a
fresh clone:

* ``adherence ...`` runs as ``python -m adherence.cli ...`` of this checkout, ``python`` as this
  interpreter, anything else (``ls``) through the shell; each must exit 0;
* services (``collect mqtt``, ``session --mqtt``, ``serve``) start in the background against a real
  Mosquitto started by the test (``mqtt://localhost:1883`` in the README becomes the test broker's
  address: the only substitution), wait until they say they are ready, and are stopped with
  SIGINT at the end of their block: they must then exit 0;
* BLE commands need a radio, or BlueZoo on a private bus (``tests/test_ble_collect.py`` runs those
  paths for real); here they must parse, and every file they name must exist;
* a ``toml`` block whose first line is ``# <file name>`` is a file the reader creates: it is
  written into the folder before the first command;
* a ``console`` block (``$ command`` then its output) is run and its output compared line by
  line, with pseudonyms (``s_`` + 16 hex digits, which depend on the random key) masked;
* the two commands at the top (``./scripts/demo.sh``, ``./scripts/test.sh``) must exist and be
  executable (this suite is what the second one runs).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from adherence.cli import build_parser
from tests.services import Mosquitto

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
README_BROKER = "mqtt://localhost:1883"
#: Services: first words of the command -> what it prints (stderr or stdout) once it is ready.
SERVICES = {
    ("collect", "mqtt"): "subscribed",
    ("session", "--mqtt"): "sessions: subscribed",
    ("serve",): "adherence serve:",
}
PARSE_ONLY = {("collect", "ble"), ("simulate", "ble"), ("session", "--ble")}
PSEUDONYM = re.compile(r"\bs_[0-9a-f]{16}\b")


@dataclass(frozen=True)
class Block:
    """A fenced block of the README: ``sh`` commands, or a ``console`` transcript."""

    kind: str
    lines: list[str]
    line_no: int


def blocks(text: str) -> list[Block]:
    """The ``sh`` and ``console`` blocks, continuation lines joined and comments removed."""
    out = []
    for m in re.finditer(r"^```(sh|console|toml)\n(.*?)^```", text, re.S | re.M):
        raw = m.group(2).replace("\\\n", " ")
        line_no = text[: m.start()].count("\n") + 1
        if m.group(1) == "toml":  # a file to create: its first line is "# <file name>"
            out.append(Block("file", m.group(2).splitlines(), line_no))
            continue
        if m.group(1) == "console":
            out.append(Block("console", raw.splitlines(), line_no))
            continue
        cmds = [_strip_comment(x) for x in raw.splitlines()]
        out.append(Block("sh", [c for c in cmds if c], line_no))
    return out


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (outside quotes) and surrounding spaces."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=False)
    lex.whitespace_split = True
    lex.commenters = "#"
    consumed = list(lex)
    if not consumed:
        return ""
    cut = line.find(" #")
    while cut != -1:
        head = line[:cut]
        try:
            if shlex.split(head) == consumed:
                return head.strip()
        except ValueError:
            pass
        cut = line.find(" #", cut + 1)
    return line.strip()


def _argv(words: list[str]) -> list[str]:
    if words[0] == "adherence":
        return [sys.executable, "-m", "adherence.cli", *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    return words


def _shell(line: str) -> str:
    """The line with ``adherence`` and ``python`` (first word, or after a pipe) made this
    checkout's interpreter; the rest (quotes, redirections) is left to the shell as written."""
    py = shlex.quote(sys.executable)
    return re.sub(
        r"(^|\|\s*)(adherence|python)\b",
        lambda m: m.group(1) + (f"{py} -m adherence.cli" if m.group(2) == "adherence" else py),
        line,
    )


def _kind(words: list[str]) -> str:
    if words[0] != "adherence":
        return "run"
    rest = tuple(w for w in words[1:] if not w.startswith("-v"))
    if any(rest[: len(k)] == k for k in PARSE_ONLY):
        return "parse"
    if any(rest[: len(k)] == k for k in SERVICES):
        return "service"
    return "run"


class Runner:
    """Runs README commands in ``cwd`` against ``broker``; keeps the background services."""

    def __init__(self, cwd: Path, broker: str) -> None:
        self.cwd = cwd
        self.broker = broker
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.background: list[tuple[str, subprocess.Popen[str], Path]] = []

    def line(self, line: str) -> str:
        return line.replace(README_BROKER, self.broker)

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        """Run one README line through the shell, as a user would type it."""
        return subprocess.run(
            _shell(self.line(line)), shell=True, cwd=self.cwd, env=self.env, capture_output=True,
            text=True, timeout=600, check=False,
        )  # fmt: skip

    def start(self, line: str, ready: str) -> None:
        line = self.line(line)
        log = self.cwd / f"service-{len(self.background)}.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(
                _argv(shlex.split(line)), cwd=self.cwd, env=self.env, stdout=fh,
                stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while ready not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"README: {line!r} did not become ready:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        self.background.append((line, proc, log))

    def stop_all(self) -> None:
        while self.background:
            line, proc, log = self.background.pop()
            proc.send_signal(signal.SIGINT)
            try:
                rc = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail(f"README: {line!r} did not stop on SIGINT")
            assert rc == 0, f"README: {line!r} exited {rc}:\n{log.read_text()[-2000:]}"


def _check_parses(line: str, cwd: Path) -> None:
    words = shlex.split(line)[1:]
    try:
        build_parser().parse_args(words)
    except SystemExit as exc:  # argparse refused it
        pytest.fail(f"README: {line!r} does not parse (exit {exc.code})")
    for w in words:
        if "/" in w and not w.startswith(("mqtt", "-")) and not (cwd / w).exists():
            pytest.fail(f"README: {line!r} names {w}, which does not exist after the steps above")


def _run_console(block: Block, runner: Runner) -> None:
    lines = block.lines
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), f"README line {block.line_no + 1 + i}: expected '$ '"
        j = i + 1
        while j < len(lines) and not lines[j].startswith("$ "):
            j += 1
        res = runner.run(lines[i][2:])
        assert res.returncode == 0, f"README: {lines[i]!r} failed:\n{res.stderr[-2000:]}"
        want = [PSEUDONYM.sub("s_<pseudonym>", x).rstrip() for x in lines[i + 1 : j]]
        got = [PSEUDONYM.sub("s_<pseudonym>", x).rstrip() for x in res.stdout.splitlines()]
        assert got == want, f"README transcript of {lines[i]!r} is stale"
        i = j


def test_readme_top_commands_exist() -> None:
    first = blocks(README.read_text())[0]
    assert [shlex.split(x)[0] for x in first.lines] == ["./scripts/demo.sh", "./scripts/test.sh"]
    for line in first.lines:
        path = REPO / shlex.split(line)[0]
        assert path.is_file() and os.access(path, os.X_OK), path


def test_every_readme_command_runs_as_written(mosquitto: Mosquitto, tmp_path: Path) -> None:
    (tmp_path / "sample_data").symlink_to(REPO / "sample_data")
    runner = Runner(tmp_path, mosquitto.url)
    demo = runner.run("adherence demo --no-progress")  # what ./scripts/demo.sh runs
    assert demo.returncode == 0, demo.stderr
    ran = 0
    for block in blocks(README.read_text()):
        if block.kind == "file":
            name = block.lines[0].removeprefix("# ").strip()
            assert re.fullmatch(r"[\w.-]+", name), f"README line {block.line_no}: name the file"
            (tmp_path / name).write_text(runner.line("\n".join(block.lines) + "\n"))
    for block in blocks(README.read_text())[1:]:
        if block.kind == "console":
            _run_console(block, runner)
            continue
        if block.kind == "file":
            continue  # written before the first command, as a user creates it
        for line in block.lines:
            words = shlex.split(line.split(">")[0])
            kind = _kind(words)
            if kind == "parse":
                _check_parses(line, tmp_path)
            elif kind == "service":
                key = next(k for k in SERVICES if tuple(words[1 : 1 + len(k)]) == k)
                runner.start(line, SERVICES[key])
            else:
                res = runner.run(line)
                assert res.returncode == 0, f"README: {line!r} exited {res.returncode}:\n" + (
                    res.stderr[-2000:] or res.stdout[-2000:]
                )
            ran += 1
        runner.stop_all()
    assert ran >= 8  # the README shows every capability
