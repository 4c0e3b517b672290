"""BLE test fixtures: a private D-Bus and a fresh BlueZoo (BlueZ stand-in) per test.

The real bleak (BlueZ backend) talks to BlueZoo over a private ``dbus-daemon`` started here;
``DBUS_SYSTEM_BUS_ADDRESS`` points at it for the test (bleak reads it when it connects).
Adapter hci0 (00:00:00:00:00:01) is the central, hci1 (00:00:00:00:00:02) the peripheral.
Nothing is patched: the far end (BlueZ) is faked, the library under test is real.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.ble_sim import BlePeripheralSim, SimSettings

CENTRAL = "00:00:00:00:00:01"
PERIPHERAL = "00:00:00:00:00:02"

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _wait(pred: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


def _dbus_send(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dbus-send", f"--bus={address}", "--print-reply", *args],
        capture_output=True,
        text=True,
        timeout=10,
    )


@dataclass
class BlueZoo:
    """A running private bus with BlueZoo on it."""

    address: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(name="bluezoo")
def bluezoo_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlueZoo]:
    """A fresh private D-Bus plus BlueZoo with two powered adapters (one per test)."""
    if shutil.which("dbus-daemon") is None or shutil.which("dbus-send") is None:
        pytest.fail("dbus-daemon/dbus-send missing: apt-get install dbus")
    bluezoo_bin = Path(sys.executable).with_name("bluezoo")
    sock = tmp_path / "bus.sock"
    conf = tmp_path / "bus.conf"
    conf.write_text(_BUS_CONF.format(sock=sock))
    daemon = subprocess.Popen(
        ["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    zoo: subprocess.Popen[bytes] | None = None
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().decode().strip()
        assert address.startswith("unix:"), address
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
        log_path = tmp_path / "bluezoo.log"
        with log_path.open("wb") as log:
            zoo = subprocess.Popen(
                [
                    str(bluezoo_bin),
                    "--auto-enable",
                    "--scan-interval",
                    "1",
                    "-v",
                    "-a",
                    CENTRAL,
                    "-a",
                    PERIPHERAL,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            r = _dbus_send(
                address,
                "--dest=org.bluez",
                "/org/bluez/hci1",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.bluez.Adapter1",
                "string:Powered",
            )
            return r.returncode == 0 and "true" in r.stdout

        _wait(ready, 20, "BlueZoo adapters")
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        yield BlueZoo(address, log_path)
    finally:
        if zoo is not None:
            _stop(zoo)
        _stop(daemon)


@contextlib.asynccontextmanager
async def peripheral(zoo: BlueZoo, settings: SimSettings) -> AsyncIterator[BlePeripheralSim]:
    """The simulated peripheral, served on ``zoo``'s adapter hci1 inside the ``async with``."""
    sim = BlePeripheralSim(settings)
    await sim.start(zoo.address)
    try:
        yield sim
    finally:
        await sim.stop()
