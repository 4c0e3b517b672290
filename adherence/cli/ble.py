"""``adherence collect ble`` and ``adherence simulate ble`` (thin shells over the library).

``collect ble`` runs :class:`ingest.ble.BleCollector` until SIGINT/SIGTERM (or ``--duration``),
printing a status line every few seconds on stderr. ``simulate ble`` serves a simulated
wearable (:mod:`ingest.ble_sim`) through BlueZ or BlueZoo until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from adherence.cli.options import SubParsers, add_command, add_store

PROFILES = ("movesense", "polar_pmd", "heart_rate", "unknown")
"""Simulated devices, as :data:`ingest.ble_sim.PROFILES` (not imported: it needs dbus-fast)."""


COLLECT_BLE_HELP = "collect from a BLE wearable (bleak) into the store"
COLLECT_BLE_DESCRIPTION = (
    "Scan for a wearable by address or name, pick its profile from the "
    "services it advertises (heart rate, RSC, CSC, Polar PMD, Movesense, WitMotion), "
    "subscribe, and store decoded frames. Reconnects after link loss; stops on SIGINT."
)
SIMULATE_BLE_HELP = "serve a simulated BLE wearable through BlueZ (or BlueZoo)"
SIMULATE_BLE_DESCRIPTION = (
    "Register a GATT application and an advertisement on an adapter and stream "
    "a recording (or synthetic motion) as the chosen device would."
)


def register(collect: SubParsers, simulate: SubParsers) -> None:
    """Add ``collect ble`` and ``simulate ble`` to the ``adherence`` command."""
    c = add_command(collect, "ble", COLLECT_BLE_HELP, COLLECT_BLE_DESCRIPTION)
    c.add_argument("--device", required=True, metavar="ADDR|NAME", help="address or name")
    c.add_argument("--subject", required=True, metavar="ID", help="pseudonymous subject id")
    add_store(c, default=Path("adherence.sqlite"))
    c.add_argument("--adapter", help="BlueZ adapter, e.g. hci0 (None: BlueZ's choice)")
    c.add_argument("--scan-timeout", type=float, default=10.0, metavar="S", help="per scan, s")
    c.add_argument("--backoff-cap", type=float, default=30.0, metavar="S", help="retry cap, s")
    c.add_argument(
        "--max-attempts",
        type=int,
        default=10,
        metavar="N",
        help="failed attempts in a row before giving up (0 = never give up)",
    )
    c.add_argument("--duration", type=float, metavar="S", help="stop after this many seconds")
    c.add_argument("--status-every", type=float, default=2.0, metavar="S", help="status period")
    c.add_argument("--quiet", action="store_true", help="no status line")
    c.set_defaults(func=cmd_collect)

    s = add_command(simulate, "ble", SIMULATE_BLE_HELP, SIMULATE_BLE_DESCRIPTION)
    s.add_argument("--profile", choices=PROFILES, default="movesense", help="device to simulate")
    s.add_argument("--name", help="advertised name (None: the profile's)")
    s.add_argument("--adapter", default="/org/bluez/hci1", help="D-Bus path of the adapter")
    s.add_argument("--bus", help="D-Bus address (None: the system bus)")
    s.add_argument("--recording", type=Path, help="*.meta.json of an exercise recording")
    s.add_argument("--clock-ppm", type=float, default=0.0, help="device clock error, ppm")
    s.add_argument("--duration", type=float, metavar="S", help="stop after this many seconds")
    s.set_defaults(func=cmd_simulate)


async def _until_signal(duration_s: float | None) -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    return stop


def cmd_collect(args: argparse.Namespace) -> int:
    """Collect until interrupted; CollectorError (refused, unreachable) exits 2 via cli.main."""
    from ingest.ble import BleCollector, BleSettings
    from ingest.store import Store

    settings = BleSettings(
        device=args.device,
        subject=args.subject,
        scan_timeout_s=args.scan_timeout,
        backoff_cap_s=args.backoff_cap,
        max_attempts=args.max_attempts or None,
        adapter=args.adapter,
    )
    store = Store(args.store)
    collector = BleCollector(settings, store)

    async def main() -> None:
        stop = await _until_signal(args.duration)

        async def status() -> None:
            while True:
                await asyncio.sleep(args.status_every)
                print("ble " + collector.status.line(), file=sys.stderr, flush=True)

        printer = None if args.quiet else asyncio.create_task(status())
        try:
            await collector.run(stop)
        finally:
            if printer is not None:
                printer.cancel()

    try:
        asyncio.run(main())
    finally:
        store.close()
    if not args.quiet:
        print("ble " + collector.status.line(), file=sys.stderr, flush=True)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Serve the simulated peripheral until interrupted."""
    from ingest.ble_sim import BlePeripheralSim, SimSettings

    sim = BlePeripheralSim(
        SimSettings(
            profile=args.profile,
            name=args.name,
            adapter=args.adapter,
            clock_ppm=args.clock_ppm,
            recording=args.recording,
        )
    )

    async def main() -> None:
        stop = await _until_signal(args.duration)
        await sim.start(args.bus)
        print(
            f"simulating {args.profile} {sim.name!r} at {sim.address}; Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await sim.stop()

    asyncio.run(main())
    print(
        f"sent {sim.notifications_sent} notifications, {sim.start_notify_calls} StartNotify",
        file=sys.stderr,
    )
    return 0
