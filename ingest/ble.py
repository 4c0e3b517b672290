"""BLE collector with bleak: scan, connect, subscribe, decode, store; reconnect on link loss.

Flow (one :class:`BleCollector` per wearable):

1. **Scan** for the device by address or name (``BleakScanner`` with a detection callback);
   choose the :class:`~devices.registry.Profile` from the service UUIDs it advertises. A device
   that advertises nothing we know is refused with what it advertises; a device not seen is
   reported with what *was* seen.
2. **Connect and subscribe** once per connection to each notify characteristic of the chosen
   profiles (a per-connection set guards against duplicate ``start_notify``), then send the
   profile's start writes (Polar PMD start, Movesense subscribe). A battery service found in
   GATT is read once and subscribed when it notifies.
3. The **notification callback only stamps** ``time.time_ns()`` and queues
   ``(host_t_ns, characteristic uuid, bytes)`` (bleak's ``async_callback_with_queue`` habit).
   One consumer decodes, aligns device time with :class:`~ingest.clock.ClockEstimator`, writes
   frames to the :class:`~ingest.store.Store` in batches, and dead-letters payloads that
   raise :class:`~devices.errors.DecodeError` (source ``ble:<uuid>``); collection goes on.
4. **Gaps**: a jump in device time larger than 1.5 sample periods between consecutive frames of
   a stream is recorded as ``dropped notifications``; a link loss is recorded per stream as
   ``disconnected`` from the last sample before it to the first sample after reconnecting.
5. **Reconnect** after an unexpected disconnect with capped exponential backoff: rescan (the
   device must advertise again), connect a new client, subscribe once.

``run(stop)`` is the asyncio entry point; ``run_blocking(stop)`` runs it on a private event
loop in the calling thread (for services that start collectors in threads); ``collect(stop)``
is the same for the :class:`ingest.collector.Collector` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from devices.errors import DecodeError
from devices.frame import Frame
from devices.registry import (
    Characteristic,
    Profile,
    describe_unknown,
    profiles_for_services,
)
from ingest.errors import CollectorError

log = logging.getLogger(__name__)

ADDRESS_RE = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
GAP_FACTOR = 1.5
"""A device-time step above this many sample periods between frames is a gap ..."""
GAP_MIN_NS = 100_000_000
"""... if it is also above 0.1 s: a smaller step is a late stamp on a busy link (steps of one or
two 19 ms periods measured beside two CPU hogs), shorter than one dropped notification."""
CLOCK_SETTLE_NS = 2_000_000_000
"""Pairs from the first 2 s of a connection are mapped but not learned from: connection-
parameter updates and service discovery make early delivery delays unrepresentative."""


class UnknownDeviceError(CollectorError):
    """The device was found but advertises no service we can decode (never retried)."""


@dataclass(frozen=True)
class BleSettings:
    """What to collect from and how hard to try.

    Attributes
    ----------
    device:
        Bluetooth address (``AA:BB:CC:DD:EE:FF``) or advertised name (exact, case-insensitive).
    subject:
        Pseudonymous subject id written into every frame.
    scan_timeout_s:
        How long one scan looks for the device, in seconds.
    connect_timeout_s:
        bleak's connection timeout, in seconds.
    backoff_initial_s, backoff_cap_s:
        First retry delay and its cap, in seconds (doubling in between).
    max_attempts:
        Consecutive failed attempts (scan or connect) before giving up with a
        :class:`~ingest.errors.CollectorError`; None retries forever.
    adapter:
        BlueZ adapter name (``hci0``); None lets BlueZ choose.
    batch_frames:
        Frames written to the store per transaction at most.
    """

    device: str
    subject: str
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 20.0
    backoff_initial_s: float = 0.5
    backoff_cap_s: float = 30.0
    max_attempts: int | None = None
    adapter: str | None = None
    batch_frames: int = 64

    @property
    def by_address(self) -> bool:
        """True when ``device`` is a Bluetooth address."""
        return bool(ADDRESS_RE.match(self.device))


@dataclass
class BleStatus:
    """Live counters of a collector (read by the status line and by tests)."""

    state: str = "starting"
    address: str = ""
    name: str = ""
    profiles: tuple[str, ...] = ()
    connections: int = 0
    subscriptions: int = 0
    notifications: int = 0
    frames: int = 0
    samples: int = 0
    dead_letters: int = 0
    gaps: int = 0
    attempts: int = 0
    drift_ppm: float | None = None
    last_error: str = ""
    started_mono: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        """One status line, e.g. for a terminal."""
        drift = "-" if self.drift_ppm is None else f"{self.drift_ppm:+.1f}ppm"
        up = int(time.monotonic() - self.started_mono)
        parts = [
            f"[{self.state}]",
            f"{self.name or '?'} {self.address}".strip(),
            "+".join(self.profiles) or "-",
            f"conn={self.connections}",
            f"notif={self.notifications}",
            f"samples={self.samples}",
            f"dead={self.dead_letters}",
            f"gaps={self.gaps}",
            f"drift={drift}",
            f"up={up}s",
        ]
        if self.last_error:
            parts.append(f"last error: {self.last_error}")
        return " ".join(parts)


@dataclass
class _StreamTrack:
    last_t_ns: int
    last_device_t_ns: int | None
    fs_hz: float | None
    suspect: tuple[str, int, int, str] | None = None  # a step, until the next frame confirms it


_DISCONNECT = "__disconnect__"


BLUEZ_HELP = (
    "start it (systemctl start bluetooth; in a container, run bluetoothd and dbus-daemon "
    "--system) or point DBUS_SYSTEM_BUS_ADDRESS at the bus where it runs"
)


def bluez_missing(exc: BaseException) -> str | None:
    """Why Bluetooth cannot work on this host at all, or ``None`` for an error worth retrying.

    On Linux bleak talks to BlueZ over the D-Bus system bus. With no bus socket the error is
    ``FileNotFoundError``/``ConnectionRefusedError``; with a bus but no BlueZ on it, D-Bus answers
    ``org.freedesktop.DBus.Error.ServiceUnknown`` for ``org.bluez``; bleak >= 0.22 may also raise
    ``BleakBluetoothNotAvailableError`` (no adapter, adapter off, no permission). Retrying cannot
    fix any of these before someone starts the service, so the collector says so and stops
    (only before its first connection: later, a restarting BlueZ is waited for).
    """
    from bleak.exc import BleakBluetoothNotAvailableError

    if isinstance(exc, BleakBluetoothNotAvailableError):
        return f"Bluetooth is not available ({exc.reason.name.lower()}): {exc}; {BLUEZ_HELP}"
    text = str(exc)
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        bus = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/system_bus_socket")
        return f"the D-Bus system bus is not running (no socket at {bus}): {text}; {BLUEZ_HELP}"
    if "ServiceUnknown" in text or "org.bluez was not provided" in text:
        return f"the BlueZ D-Bus service (org.bluez) is not running: {BLUEZ_HELP}"
    return None


class BleCollector:
    """Collect one BLE wearable into a store (see the module docstring for the flow).

    Parameters
    ----------
    settings:
        :class:`BleSettings`.
    store:
        An :class:`ingest.store.Store` (anything with ``put_frames``, ``put_gap`` and
        ``dead_letter``).
    """

    def __init__(self, settings: BleSettings, store: Any) -> None:
        self.settings = settings
        self.store = store
        self.status = BleStatus()
        self._queue: asyncio.Queue[tuple[int, str, bytes]] | None = None
        self._states: dict[str, Any] = {}
        self._chars: dict[str, tuple[Characteristic, bool]] = {}
        self._clock: Any = None
        self._tracks: dict[str, _StreamTrack] = {}
        self._pending_disconnect: dict[str, int] = {}
        self._seq = 0
        self._device_id = ""
        self._connected_at_ns = 0

    # -- public entry points --------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set; raise CollectorError if the device is refused or
        cannot be reached within ``max_attempts``."""
        from ingest.clock import ClockEstimator

        self._clock = ClockEstimator()
        self._queue = asyncio.Queue()
        consumer = asyncio.create_task(self._consume(), name="ble-consumer")
        conn = asyncio.create_task(self._connection_loop(stop), name="ble-connection")
        try:
            done, _ = await asyncio.wait({consumer, conn}, return_when="FIRST_COMPLETED")
            if consumer in done:
                # Only a failing store ends the consumer early: stop collecting, report it.
                conn.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn
                consumer.result()
                return
        finally:
            if not conn.done():
                conn.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn
            if not consumer.done():
                await self._queue.put((0, "", b""))  # sentinel: drain and stop
                await consumer
            if self.status.state != "failed":
                self.status.state = "stopped"
        conn.result()

    def run_blocking(self, stop: threading.Event) -> None:
        """Run :meth:`run` on a private event loop in this thread until ``stop`` is set."""

        async def main() -> None:
            astop = asyncio.Event()

            async def watch() -> None:
                while not stop.is_set():
                    await asyncio.sleep(0.1)
                astop.set()

            watcher = asyncio.create_task(watch())
            try:
                await self.run(astop)
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

        asyncio.run(main())

    # -- the Collector protocol (ingest.collector) ----------------------------------------
    @property
    def name(self) -> str:
        """``"ble"``."""
        return "ble"

    @property
    def writes(self) -> frozenset[str]:
        """Frames, gaps (dropped notifications, disconnections) and dead letters."""
        return frozenset({"frames", "gaps", "dead_letter"})

    def collect(self, stop: threading.Event) -> None:
        """:meth:`run_blocking`: collect in this thread until ``stop`` is set."""
        self.run_blocking(stop)

    def status_text(self) -> str:
        """The collector's state (``scanning``, ``connected``, ``reconnecting``, ...)."""
        return self.status.state

    # -- connection management ------------------------------------------------------------
    async def _connection_loop(self, stop: asyncio.Event) -> None:
        from bleak.exc import BleakError

        s = self.settings
        failures = 0
        while not stop.is_set():
            try:
                device, adv_uuids, name = await self._scan(stop)
                if device is None:
                    if stop.is_set():
                        return
                    raise CollectorError("device", s.device, "not seen while scanning")
                chosen = profiles_for_services(adv_uuids)
                if not chosen:
                    raise UnknownDeviceError(
                        "device",
                        s.device,
                        "refused: " + describe_unknown(name, device.address, adv_uuids),
                    )
                self.status.profiles = tuple(p.name for p in chosen)
                self.status.name, self.status.address = name or "", device.address
                self._device_id = device.address
                unexpected = await self._session(device, chosen, stop)
                failures = 0
                if not unexpected:
                    return
                continue
            except UnknownDeviceError:
                raise
            except (BleakError, CollectorError, TimeoutError, OSError, EOFError) as exc:
                if self.status.connections == 0 and (why := bluez_missing(exc)):
                    self.status.state = "failed"
                    raise CollectorError("bluetooth", "BlueZ", why) from exc
                failures += 1
                self.status.attempts = failures
                self.status.last_error = str(exc) or type(exc).__name__
                log.warning("BLE attempt %d failed: %s", failures, self.status.last_error)
                if s.max_attempts is not None and failures >= s.max_attempts:
                    self.status.state = "failed"
                    raise CollectorError(
                        "device",
                        s.device,
                        f"gave up after {failures} attempt(s); last error: {self.status.last_error}",
                    ) from exc
            delay = min(s.backoff_cap_s, s.backoff_initial_s * 2 ** max(0, failures - 1))
            self.status.state = f"retry in {delay:.1f}s"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _scan(self, stop: asyncio.Event) -> tuple[Any, list[str], str | None]:
        """Scan until the device is seen; return (BLEDevice or None, advertised UUIDs, name).

        When not found, the error names the devices that were seen and what they advertise.
        """
        from bleak import BleakScanner

        s = self.settings
        self.status.state = "scanning"
        want = s.device.lower()
        seen: dict[str, tuple[Any, list[str], str | None]] = {}
        found = asyncio.Event()
        hit: list[str] = []

        def on_adv(dev: Any, adv: Any) -> None:
            name = adv.local_name or dev.name
            seen[dev.address] = (dev, list(adv.service_uuids), name)
            if (dev.address.lower() == want) if s.by_address else ((name or "").lower() == want):
                hit.append(dev.address)
                found.set()

        kw: dict[str, Any] = {"bluez": {"adapter": s.adapter}} if s.adapter else {}
        async with BleakScanner(on_adv, **kw):
            waiters = [asyncio.ensure_future(found.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waiters, timeout=s.scan_timeout_s, return_when="FIRST_COMPLETED")
            finally:
                for w in waiters:
                    w.cancel()
        if hit:
            return seen[hit[0]]
        if stop.is_set():
            return None, [], None
        others = (
            "; ".join(
                f"{n or '?'} [{a}] advertising {', '.join(u) or 'no services'}"
                for a, (_, u, n) in list(seen.items())[:10]
            )
            or "nothing"
        )
        raise CollectorError(
            "device", s.device, f"not seen within {s.scan_timeout_s:g} s; seen: {others}"
        )

    async def _session(self, device: Any, chosen: list[Profile], stop: asyncio.Event) -> bool:
        """One connection. Returns True if it ended by an unexpected disconnect."""
        from bleak import BleakClient

        s = self.settings
        assert self._queue is not None
        queue = self._queue
        disconnected = asyncio.Event()
        kw: dict[str, Any] = {"bluez": {"adapter": s.adapter}} if s.adapter else {}
        self.status.state = "connecting"
        client = BleakClient(
            device,
            disconnected_callback=lambda _c: disconnected.set(),
            timeout=s.connect_timeout_s,
            **kw,
        )
        await client.connect()
        self._connected_at_ns = time.time_ns()
        self.status.connections += 1
        subscribed: set[str] = set()
        try:
            active = await self._start_streaming(client, chosen, subscribed, queue)
            self.status.state = "streaming"
            await _first_of(stop, disconnected)
            if disconnected.is_set() and not stop.is_set():
                self.status.state = "disconnected"
                queue.put_nowait((time.time_ns(), _DISCONNECT, b""))
                return True
            await self._stop_streaming(client, active, subscribed)
            return False
        finally:
            if client.is_connected:
                with contextlib.suppress(Exception):
                    await client.disconnect()

    async def _start_streaming(
        self,
        client: Any,
        chosen: list[Profile],
        subscribed: set[str],
        queue: asyncio.Queue[tuple[int, str, bytes]],
    ) -> list[Profile]:
        """Subscribe the chosen profiles and the optional ones found in GATT (battery), send
        their start writes; return the active profiles."""
        active: list[Profile] = list(chosen)
        service_uuids = {sv.uuid.lower() for sv in client.services}
        for p in profiles_for_services(service_uuids, include_optional=True):
            if p.optional and p not in active:
                active.append(p)
        for p in active:
            for ch in p.characteristics:
                await self._subscribe(client, ch, p.device_clock, subscribed, queue)
        for p in active:
            for uuid, data in p.start:
                await client.write_gatt_char(uuid, data, response=True)
        return active

    async def _stop_streaming(
        self, client: Any, active: list[Profile], subscribed: set[str]
    ) -> None:
        """Orderly stop: stop writes, unsubscribe (errors ignored: we are leaving anyway)."""
        self.status.state = "stopping"
        with contextlib.suppress(Exception):
            for p in active:
                for uuid, data in p.stop:
                    await client.write_gatt_char(uuid, data, response=True)
            for uuid in list(subscribed):
                await client.stop_notify(uuid)

    async def _subscribe(
        self,
        client: Any,
        ch: Characteristic,
        clocked: bool,
        subscribed: set[str],
        queue: asyncio.Queue[tuple[int, str, bytes]],
    ) -> None:
        """Read and/or subscribe one characteristic, at most once per connection."""
        gatt = client.services.get_characteristic(ch.uuid)
        if gatt is None:
            log.info("characteristic %s (%s) not present; skipped", ch.name, ch.uuid)
            return
        self._chars[ch.uuid] = (ch, clocked)
        if ch.uuid not in self._states:
            self._states[ch.uuid] = ch.make_state()
        props = set(gatt.properties)
        if "read" in props and "notify" not in props:
            value = await client.read_gatt_char(ch.uuid)
            queue.put_nowait((time.time_ns(), ch.uuid, bytes(value)))
            return
        if "notify" not in props and "indicate" not in props:
            return
        if ch.uuid in subscribed:
            return
        uuid = ch.uuid

        def on_notify(_char: Any, data: bytearray) -> None:
            # Stamp and hand off; nothing else happens on the callback.
            queue.put_nowait((time.time_ns(), uuid, bytes(data)))

        await client.start_notify(uuid, on_notify)
        subscribed.add(uuid)
        self.status.subscriptions += 1

    # -- consumer ---------------------------------------------------------------------------
    async def _consume(self) -> None:
        assert self._queue is not None
        q = self._queue
        done = False
        while not done:
            items = [await q.get()]
            while not q.empty() and len(items) < self.settings.batch_frames:
                items.append(q.get_nowait())
            frames: list[Frame] = []
            dead: list[tuple[str, DecodeError, bytes, int]] = []
            gaps: list[tuple[str, int, int, str]] = []
            for host_t_ns, uuid, payload in items:
                if uuid == "":
                    done = True
                    continue
                if uuid == _DISCONNECT:
                    for stream, tr in self._tracks.items():
                        self._pending_disconnect.setdefault(stream, tr.last_t_ns)
                    continue
                self.status.notifications += 1
                try:
                    new = self._decode(uuid, payload, host_t_ns)
                except DecodeError as exc:
                    dead.append((uuid, exc, payload, host_t_ns))
                    continue
                for f in new:
                    gaps.extend(self._track(f))
                frames.extend(new)
            if frames or dead or gaps:
                await asyncio.to_thread(self._write, frames, dead, gaps)

    def _decode(self, uuid: str, payload: bytes, host_t_ns: int) -> list[Frame]:
        ch, clocked = self._chars[uuid]
        self._seq += 1
        align = None
        if clocked:
            learn = host_t_ns - self._connected_at_ns > CLOCK_SETTLE_NS

            def align(d: Any, h: int) -> Any:
                return self._clock.align(d, h, learn=learn)

        frames = ch.decode(
            payload,
            subject=self.settings.subject,
            device=self._device_id,
            host_t_ns=host_t_ns,
            seq=self._seq,
            state=self._states.get(uuid),
            align=align,
        )
        if align is not None:
            m = self._clock.model()
            if m is not None and m.slope != 0.0:
                self.status.drift_ppm = m.drift_ppm
        return frames

    def _track(self, f: Frame) -> list[tuple[str, int, int, str]]:
        """Update per-stream bookkeeping; return gaps found before frame ``f``."""
        stream = f.stream.value
        out: list[tuple[str, int, int, str]] = []
        tr = self._tracks.get(stream)
        if stream in self._pending_disconnect:
            start = self._pending_disconnect.pop(stream)
            out.append((stream, start, f.start_ns, "disconnected"))
        elif tr is not None and tr.last_device_t_ns is not None and f.device_t_ns is not None:
            suspect = self._step(tr, f)
            if tr.suspect is not None and not (suspect is None and self._back_on_grid(tr, f)):
                out.append(tr.suspect)  # the step lasted: notifications really were dropped
            if suspect is not None:
                end_dev = int(f.device_t_ns[-1])
                self._tracks[stream] = _StreamTrack(f.end_ns, end_dev, f.fs_hz, suspect)
                return out
        last_dev = None if f.device_t_ns is None else int(f.device_t_ns[-1])
        self._tracks[stream] = _StreamTrack(f.end_ns, last_dev, f.fs_hz)
        return out

    @staticmethod
    def _step(tr: _StreamTrack, f: Frame) -> tuple[str, int, int, str] | None:
        """A gap before ``f`` if its device time steps forward by more than GAP_FACTOR periods.

        It is only a suspect: a sensor stamping notifications when they are sent steps forward
        and back again on a busy link; the next frame decides (:meth:`_back_on_grid`).
        """
        assert tr.last_device_t_ns is not None and f.device_t_ns is not None
        step_ns = int(f.device_t_ns[0]) - tr.last_device_t_ns
        if not (f.fs_hz and step_ns > max(GAP_FACTOR * 1e9 / f.fs_hz, GAP_MIN_NS)):
            return None
        missing = round(step_ns * f.fs_hz / 1e9) - 1
        return (
            f.stream.value,
            tr.last_t_ns,
            f.start_ns,
            f"dropped notifications (~{missing} samples)",
        )

    @staticmethod
    def _back_on_grid(tr: _StreamTrack, f: Frame) -> bool:
        """True if ``f`` steps back by about as much as the suspect stepped forward."""
        assert tr.last_device_t_ns is not None and f.device_t_ns is not None and tr.fs_hz
        return int(f.device_t_ns[0]) - tr.last_device_t_ns < 0.5e9 / tr.fs_hz

    def _write(
        self,
        frames: list[Frame],
        dead: list[tuple[str, DecodeError, bytes, int]],
        gaps: list[tuple[str, int, int, str]],
    ) -> None:
        """Store one batch (runs in a worker thread; the store serialises its own calls)."""
        with self.store.transaction():
            if frames:
                self.store.put_frames(frames)
            for uuid, exc, payload, host_t_ns in dead:
                self.store.dead_letter(
                    f"ble:{uuid}",
                    exc.reason,
                    payload,
                    {**exc.as_record(), "device": self._device_id, "host_t_ns": host_t_ns},
                )
            for stream, start, end, reason in gaps:
                self.store.put_gap(
                    self._device_id, stream, start, end, reason, subject=self.settings.subject
                )
        self.status.frames += len(frames)
        self.status.samples += sum(f.n for f in frames)
        self.status.dead_letters += len(dead)
        self.status.gaps += len(gaps)


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
    finally:
        for w in waiters:
            w.cancel()
