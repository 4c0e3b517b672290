"""End-to-end: the real bleak (BlueZ backend) against BlueZoo on a private D-Bus.

Each test starts its own bus and BlueZoo (``tests/ble_fixtures.py``), a simulated peripheral
(``ingest/ble_sim.py``) on adapter hci1, and the collector on hci0, all on one event loop.
Waits poll state with generous timeouts; nothing depends on a sleep being long enough.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from devices import gatt_heart_rate, movesense, polar_pmd
from ingest.ble import BleCollector, BleSettings, UnknownDeviceError
from ingest.ble_sim import BlePeripheralSim, SimSettings
from ingest.errors import CollectorError
from ingest.store import Store
from tests.ble_fixtures import PERIPHERAL, BlueZoo, bluezoo_fixture, peripheral  # noqa: F401

pytestmark = pytest.mark.ble

REPO = Path(__file__).resolve().parents[1]
RECORDING = REPO / "sample_data" / "recordings" / "ex-P001-2026-11-09-bridge.meta.json"


async def until(pred: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def run_session(
    zoo: BlueZoo,
    store: Store,
    sim_settings: SimSettings,
    device: str,
    script: Callable[[BlePeripheralSim, BleCollector], Awaitable[None]],
    **settings: object,
) -> tuple[BlePeripheralSim, BleCollector]:
    """Start the simulator and a collector, run ``script``, stop both cleanly."""
    async with peripheral(zoo, sim_settings) as sim:
        collector = BleCollector(
            BleSettings(
                device=device,
                subject="P001",
                adapter="hci0",
                scan_timeout_s=10,
                backoff_initial_s=0.2,
                backoff_cap_s=1.0,
                **settings,  # type: ignore[arg-type]
            ),
            store,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        try:
            await script(sim, collector)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    return sim, collector


def test_scan_connect_notify_decode_store(bluezoo: BlueZoo, store: Store) -> None:
    """Found by name, profile chosen from the advertised service, notifications decoded into
    accelerometer frames equal to what the peripheral sent, stored with device time."""

    async def script(sim: BlePeripheralSim, c: BleCollector) -> None:
        await until(lambda: c.status.frames >= 24, "24 frames (accelerometer and gyroscope)")

    sim, c = asyncio.run(
        run_session(
            bluezoo,
            store,
            SimSettings(profile="movesense", recording=RECORDING),
            "Movesense 000001",
            script,
        )
    )
    assert c.status.profiles == ("movesense",)
    assert c.status.address == PERIPHERAL
    assert sim.start_notify_calls[movesense.DATA_UUID] == 1
    frames = list(store.frames(subject="P001", stream="accel"))
    assert len(frames) >= 12
    f0 = frames[0]
    assert f0.device == PERIPHERAL and f0.n == 8 and f0.fs_hz == 52.0
    assert f0.device_t_ns is not None
    # Device times: consecutive samples 1/52 s apart by the device clock.
    assert np.all(np.abs(np.diff(f0.device_t_ns) - 1e9 / 52) <= 1)
    # Values: the recording (resampled to 52 Hz) as float32 m/s^2, back in g.
    # The device clock says ms since power-on (an hour before the first sample).
    i0 = round((int(f0.device_t_ns[0]) / 1e6 - 3_600_000) * 52 / 1e3)
    np.testing.assert_allclose(f0.values, sim._acc[i0 : i0 + 8], rtol=0, atol=1e-6)
    gyro = list(store.frames(subject="P001", stream="gyro"))
    assert gyro and gyro[0].meta["ref"] == 2
    # Aligned times are UTC now-ish and follow the device spacing.
    assert abs(f0.start_ns - time.time_ns()) < 120 * 10**9
    assert store.gaps() == []
    assert store.dead_letters("ble:") == []


def test_forced_disconnect_reconnects_once_without_duplicate_subscription(
    bluezoo: BlueZoo, store: Store
) -> None:
    async def script(sim: BlePeripheralSim, c: BleCollector) -> None:
        await until(lambda: c.status.frames >= 6, "frames before the disconnect")
        await sim.force_disconnect()
        await until(lambda: c.status.connections == 2, "reconnection")
        n = c.status.frames
        await until(lambda: c.status.frames >= n + 6, "frames after reconnecting")

    sim, c = asyncio.run(
        run_session(bluezoo, store, SimSettings(profile="movesense"), PERIPHERAL, script)
    )
    # One StartNotify per connection, seen by the peripheral; the collector agrees.
    assert sim.start_notify_calls[movesense.DATA_UUID] == 2
    assert c.status.subscriptions == 2
    # No notification was delivered twice: every stored frame has a distinct first sample.
    assert store.count("frames") == c.status.frames
    for stream in ("accel", "gyro"):
        firsts = [int(f.device_t_ns[0]) for f in store.frames(stream=stream)]  # type: ignore[index]
        assert len(firsts) == len(set(firsts))
    gaps = store.gaps(device=PERIPHERAL)
    assert sorted((g.stream, g.reason) for g in gaps) == [
        ("accel", "disconnected"),
        ("gyro", "disconnected"),
    ]
    frames = list(store.frames(subject="P001", stream="accel"))
    gaps = [g for g in gaps if g.stream == "accel"]
    g = gaps[0]
    before = [f.end_ns for f in frames if f.end_ns <= g.start_ns]
    after = [f.start_ns for f in frames if f.start_ns >= g.end_ns]
    assert before and after
    assert g.start_ns == max(before) and g.end_ns == min(after)
    assert g.subject == "P001"


def test_malformed_notification_dead_lettered_and_drop_recorded(
    bluezoo: BlueZoo, store: Store
) -> None:
    async def script(sim: BlePeripheralSim, c: BleCollector) -> None:
        await until(lambda: c.status.frames >= 4, "first frames")
        sim.inject_malformed(1)
        await until(lambda: c.status.dead_letters == 1, "the dead letter")
        n = c.status.frames
        await until(lambda: c.status.frames >= n + 3, "collection going on")
        sim.drop_next(2)
        await until(lambda: sim.dropped == 2, "two lost notifications")
        n = c.status.frames
        await until(lambda: c.status.frames >= n + 3, "frames after the loss")

    sim, c = asyncio.run(
        run_session(bluezoo, store, SimSettings(profile="movesense"), PERIPHERAL, script)
    )
    dead = store.dead_letters("ble:")
    assert len(dead) == 1
    assert dead[0].source == f"ble:{movesense.DATA_UUID}"
    assert dead[0].payload == b"\x02\x01\x00"
    assert "u32 timestamp" in dead[0].reason
    assert dead[0].context["device"] == PERIPHERAL
    # The malformed notification took the place of one accelerometer notification (8 samples
    # missing), then 2 were lost on the air (16 samples): two gaps, gyroscope untouched.
    reasons = [g.reason for g in store.gaps(device=PERIPHERAL) if g.stream == "accel"]
    assert reasons == ["dropped notifications (~8 samples)", "dropped notifications (~16 samples)"]
    assert [g for g in store.gaps(device=PERIPHERAL) if g.stream == "gyro"] == []
    assert c.status.connections == 1


def test_drift_of_a_fast_device_clock_is_estimated_end_to_end(
    bluezoo: BlueZoo, store: Store
) -> None:
    """Polar PMD with ns device time, clock 1000 ppm fast: the collector's estimate within 300.

    40 s of notifications (26 per second) through bleak and the BlueZ stand-in. The end-to-end
    error is the change of the minimum D-Bus delivery delay over the run divided by its length,
    which depends on how busy the machine is (idle runs at 50 ppm: 46-58 ppm; one beside a
    concurrent suite: 68 ppm); 300 ppm over 40 s allows a 12 ms change, so this checks the
    wiring (device times reach the estimator, the estimate reaches the status) on any machine.
    The estimator's precision (50 ppm within 16.7 ppm, i.e. 1 ms per minute, with random
    delivery delays) is checked exactly in ``tests/test_clock.py``. 1000 ppm is a cheap RC
    oscillator; a collector without drift estimation reports None or 0 and fails.
    """

    async def script(sim: BlePeripheralSim, c: BleCollector) -> None:
        t0 = time.monotonic()
        await until(lambda: time.monotonic() - t0 > 40.0, "40 s of data", timeout_s=60)

    sim, c = asyncio.run(
        run_session(
            bluezoo,
            store,
            SimSettings(profile="polar_pmd", clock_ppm=1000.0, samples_per_notification=2),
            "Polar Sense SIM01",
            script,
        )
    )
    assert c.status.profiles == ("polar_pmd",)
    assert c.status.drift_ppm is not None
    assert abs(c.status.drift_ppm - 1000.0) <= 300.0, c.status.drift_ppm
    frames = list(store.frames(subject="P001", stream="accel"))
    assert frames and all(f.device_t_ns is not None for f in frames)
    assert frames[0].meta["decoder"] == "polar_pmd"


def test_heart_rate_by_address(bluezoo: BlueZoo, store: Store) -> None:
    async def script(sim: BlePeripheralSim, c: BleCollector) -> None:
        await until(lambda: c.status.notifications >= 2, "two heart-rate notifications")

    sim, c = asyncio.run(
        run_session(bluezoo, store, SimSettings(profile="heart_rate"), PERIPHERAL, script)
    )
    assert c.status.profiles == ("heart_rate",)
    t, hr = store.read_stream("P001", "heart_rate")
    assert hr.shape[0] >= 2 and 60 <= hr[0, 0] < 90
    _, rr = store.read_stream("P001", "rr_interval")
    np.testing.assert_allclose(rr[0, 0], round(60.0 / hr[0, 0] * 1024) / 1024)
    assert sim.start_notify_calls[gatt_heart_rate.MEASUREMENT_UUID] == 1


def test_unknown_device_refused_with_what_it_advertises(bluezoo: BlueZoo, store: Store) -> None:
    async def main() -> None:
        async with peripheral(bluezoo, SimSettings(profile="unknown")):
            c = BleCollector(
                BleSettings(device="Mystery Gadget", subject="P001", adapter="hci0"), store
            )
            with pytest.raises(UnknownDeviceError) as err:
                await c.run(asyncio.Event())
            msg = str(err.value)
            assert "Mystery Gadget" in msg and PERIPHERAL in msg
            assert "0000feed-0000-1000-8000-00805f9b34fb" in msg
            assert polar_pmd.SERVICE_UUID in msg  # the known services are listed
            assert c.status.connections == 0

    asyncio.run(main())


def test_vanished_device_retried_then_reported(bluezoo: BlueZoo, store: Store) -> None:
    c = BleCollector(
        BleSettings(
            device="AA:BB:CC:DD:EE:FF",
            subject="P001",
            adapter="hci0",
            scan_timeout_s=1.0,
            backoff_initial_s=0.05,
            max_attempts=2,
        ),
        store,
    )
    with pytest.raises(CollectorError, match=r"gave up after 2 attempt\(s\).*not seen within 1 s"):
        asyncio.run(c.run(asyncio.Event()))
    assert c.status.attempts == 2 and c.status.state == "failed"


def test_not_found_names_what_was_seen(bluezoo: BlueZoo, store: Store) -> None:
    async def main() -> None:
        async with peripheral(bluezoo, SimSettings(profile="unknown")):
            settings = BleSettings(
                device="Polar H10 1234", subject="P001", adapter="hci0", scan_timeout_s=1.0,
                max_attempts=1,
            )  # fmt: skip
            with pytest.raises(CollectorError) as err:
                await BleCollector(settings, store).run(asyncio.Event())
            assert (
                "not seen within 1 s; seen: Mystery Gadget [00:00:00:00:00:02] advertising "
                "0000feed-0000-1000-8000-00805f9b34fb" in str(err.value)
            )

    asyncio.run(main())


def test_command_reports_unreachable_device_in_one_line(
    bluezoo: BlueZoo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from adherence.cli import main

    code = main(
        [
            "collect", "ble", "--device", "AA:BB:CC:DD:EE:FF", "--subject", "P001",
            "--store", str(tmp_path / "s.sqlite"), "--adapter", "hci0",
            "--scan-timeout", "0.5", "--max-attempts", "1", "--quiet",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("adherence: error: device at AA:BB:CC:DD:EE:FF")
    assert "gave up after 1 attempt(s)" in err[0] and "Traceback" not in err[0]


def test_run_blocking_in_a_thread_until_stopped(bluezoo: BlueZoo, store: Store) -> None:
    """The ``serve`` command's use: the collector on its own thread, stopped by an Event."""
    import threading

    sim_ready, sim_stop, stop = threading.Event(), threading.Event(), threading.Event()

    async def serve_sim() -> None:
        async with peripheral(bluezoo, SimSettings(profile="heart_rate")):
            sim_ready.set()
            while not sim_stop.is_set():
                await asyncio.sleep(0.05)

    sim_thread = threading.Thread(target=asyncio.run, args=(serve_sim(),))
    sim_thread.start()
    try:
        assert sim_ready.wait(20)
        c = BleCollector(BleSettings(device="HR-Sim", subject="P001", adapter="hci0"), store)
        errors: list[BaseException] = []

        def target() -> None:
            try:
                c.run_blocking(stop)
            except BaseException as exc:  # reported to the test thread
                errors.append(exc)

        t = threading.Thread(target=target)
        t.start()
        deadline = time.monotonic() + 30
        while c.status.frames < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        t.join(30)
        assert not t.is_alive() and errors == []
        assert c.status.frames >= 2 and c.status.state == "stopped"
    finally:
        sim_stop.set()
        sim_thread.join(30)
    assert store.count("frames") >= 2


def test_simulate_command_runs_for_a_duration(
    bluezoo: BlueZoo, capsys: pytest.CaptureFixture[str]
) -> None:
    from adherence.cli import main

    code = main(
        ["simulate", "ble", "--profile", "heart_rate", "--bus", bluezoo.address,
         "--duration", "0.5"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "simulating heart_rate 'HR-Sim' at 00:00:00:00:00:02" in err


def test_store_failure_stops_collection_with_the_error(bluezoo: BlueZoo, store: Store) -> None:
    from ingest.errors import StoreError

    class FullDisk:
        """A store whose writes fail, as on a full disk."""

        def transaction(self):  # noqa: ANN202
            raise StoreError("store", "full.sqlite", "database or disk is full")

    async def main() -> None:
        async with peripheral(bluezoo, SimSettings(profile="heart_rate")):
            c = BleCollector(
                BleSettings(device="HR-Sim", subject="P001", adapter="hci0"), FullDisk()
            )
            with pytest.raises(StoreError, match="disk is full"):
                await asyncio.wait_for(c.run(asyncio.Event()), 30)
            assert c.status.connections == 1

    asyncio.run(main())
