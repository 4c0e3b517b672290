"""``collect ble`` without BlueZ says what is missing and how to start it, then exits.

Before: the collector retried forever, printing "[Errno 2] No such file or directory" (no D-Bus
system bus) or "org.bluez was not provided" (a bus without BlueZ). Both are run for real: a bus
address whose socket does not exist, and a private ``dbus-daemon`` with nothing on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.ble

REPO = Path(__file__).resolve().parents[1]


def _collect(tmp_path: Path, bus: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "adherence.cli", "collect", "ble", "--device"]
    argv += ["AA:BB:CC:DD:EE:FF", "--subject", "P001", "--store", str(tmp_path / "s.sqlite")]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def empty_bus(tmp_path: Path) -> Iterator[str]:
    """A private D-Bus daemon with no BlueZ on it; yields its address."""
    proc = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    yield address
    proc.terminate()
    proc.wait(timeout=30)


def test_no_system_bus_is_one_line_and_exit_2(tmp_path: Path) -> None:
    res = _collect(tmp_path, f"unix:path={tmp_path / 'no-such-socket'}")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "the D-Bus system bus is not running" in lines[0]
    assert "systemctl start bluetooth" in lines[0]


def test_bus_without_bluez_is_one_line_and_exit_2(tmp_path: Path, empty_bus: str) -> None:
    res = _collect(tmp_path, empty_bus)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "the BlueZ D-Bus service (org.bluez) is not running" in lines[0]
