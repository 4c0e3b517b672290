"""A BLE peripheral simulator served through BlueZ (or the BlueZoo stand-in) with dbus-fast.

The simulator registers a GATT application and an LE advertisement on one adapter (BlueZ's
``GattManager1.RegisterApplication`` and ``LEAdvertisingManager1.RegisterAdvertisement``, see
BlueZ ``doc/org.bluez.GattManager.rst``), so that a central on another adapter (bleak) can scan,
connect and subscribe exactly as it would to a wearable. It serves:

* ``movesense``: the Movesense GATT SensorData service; writes of ``01 <ref> /Meas/Acc/52`` or
  ``/Meas/Gyro/52`` start streaming accelerometer (m/s^2) or gyroscope (deg/s) from a recording,
  8 samples per notification with a u32 ms device timestamp;
* ``polar_pmd``: the Polar PMD accelerometer; the control-point start command starts int16 mG
  frames with a u64 ns device timestamp (since 2000-01-01);
* ``heart_rate``: Heart Rate Measurement with RR intervals, one per second;
* ``unknown``: a service nobody knows (to exercise the refusal path).

Knobs for tests and demos: :meth:`BlePeripheralSim.inject_malformed` (the next notification is
replaced by bytes the decoder must refuse), :meth:`BlePeripheralSim.force_disconnect` (the link
drops as BlueZ would report it, and the device advertises again), and ``clock_ppm`` (the device
clock runs that many parts per million fast). ``start_notify_calls`` counts StartNotify per
characteristic, so tests can prove that a reconnect does not subscribe twice.
"""

import asyncio
import contextlib
import logging
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_method, dbus_property

from devices import gatt_heart_rate, movesense, polar_pmd
from ingest.errors import CollectorError

log = logging.getLogger(__name__)

DBusStrList = Annotated[list[str], DBusSignature("as")]
# (no ``from __future__ import annotations`` here: dbus-fast reads these annotations at import)

APP_PATH = "/org/adherence/sim"
ADV_PATH = "/org/adherence/sim/adv0"
UNKNOWN_SERVICE_UUID = "0000feed-0000-1000-8000-00805f9b34fb"
UNKNOWN_CHAR_UUID = "0000beef-0000-1000-8000-00805f9b34fb"
PROFILES = ("movesense", "polar_pmd", "heart_rate", "unknown")
DEFAULT_NAMES = {
    "movesense": "Movesense 000001",
    "polar_pmd": "Polar Sense SIM01",
    "heart_rate": "HR-Sim",
    "unknown": "Mystery Gadget",
}
# Polar sensor time starts at 2000-01-01; a freshly set sensor is about 26 years in.
DEVICE_CLOCK_ORIGIN_NS = 830_000_000 * 1_000_000_000


class _Characteristic(ServiceInterface):
    """``org.bluez.GattCharacteristic1`` served by the simulator."""

    def __init__(
        self,
        uuid: str,
        service_path: str,
        flags: list[str],
        on_write: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.uuid = uuid
        self.service_path = service_path
        self.flags = flags
        self.on_write = on_write
        self.value = b""
        self.notifying = False
        self.start_notify_calls = 0
        self.stop_notify_calls = 0

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:  # noqa: N802
        return self.value

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:  # noqa: N802
        if self.on_write is not None:
            self.on_write(bytes(value))

    @dbus_method()
    def StartNotify(self) -> None:  # noqa: N802
        # Notifying is not signalled, so BlueZ forwards every StartNotify and the count shows
        # duplicate subscriptions.
        self.start_notify_calls += 1
        self.notifying = True

    @dbus_method()
    def StopNotify(self) -> None:  # noqa: N802
        self.stop_notify_calls += 1
        self.notifying = False

    @dbus_method()
    def Confirm(self) -> None:  # noqa: N802
        return None

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:  # noqa: N802
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:  # noqa: N802
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrList:  # noqa: N802
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:  # noqa: N802
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:  # noqa: N802
        return self.notifying

    def push(self, data: bytes) -> None:
        """Send a notification: change ``Value`` (BlueZ turns this into a notification)."""
        self.value = bytes(data)
        self.emit_properties_changed({"Value": self.value})


class _Service(ServiceInterface):
    """``org.bluez.GattService1``."""

    def __init__(self, uuid: str) -> None:
        super().__init__("org.bluez.GattService1")
        self.uuid = uuid

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:  # noqa: N802
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:  # noqa: N802
        return True


class _Advertisement(ServiceInterface):
    """``org.bluez.LEAdvertisement1``; ``ServiceData`` carries a counter bumped per advert."""

    def __init__(self, name: str, service_uuid: str) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self.local_name = name
        self.service_uuid = service_uuid
        self.counter = 0

    @dbus_method()
    def Release(self) -> None:  # noqa: N802
        return None

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> DBusStr:  # noqa: N802
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> DBusStrList:  # noqa: N802
        return [self.service_uuid]

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:  # noqa: N802
        return True

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> DBusStr:  # noqa: N802
        return self.local_name

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> DBusDict:  # noqa: N802
        return {self.service_uuid: Variant("ay", bytes([self.counter & 0xFF]))}

    def bump(self) -> None:
        """Advertise again with new data (a real radio repeats adverts; BlueZ sees new ones)."""
        self.counter += 1
        self.emit_properties_changed(
            {"ServiceData": {self.service_uuid: Variant("ay", bytes([self.counter & 0xFF]))}}
        )


@dataclass(frozen=True)
class SimSettings:
    """What the simulated peripheral serves.

    Attributes
    ----------
    profile:
        One of :data:`PROFILES`.
    name:
        Advertised local name (default per profile).
    adapter:
        D-Bus path of the adapter the peripheral lives on.
    central_adapter:
        Adapter path of the central (used to drop the link in :meth:`force_disconnect`).
    clock_ppm:
        Device clock rate error in parts per million (positive = fast).
    recording:
        ``*.meta.json`` of an exercise recording (accelerometer g, gyroscope deg/s) to serve;
        None serves a synthetic 0.5 Hz sway.
    fs_hz:
        Device sample rate in Hz (the recording is resampled to it).
    samples_per_notification:
        IMU samples carried by one notification.
    """

    profile: str = "movesense"
    name: str | None = None
    adapter: str = "/org/bluez/hci1"
    central_adapter: str = "/org/bluez/hci0"
    clock_ppm: float = 0.0
    recording: Path | None = None
    fs_hz: float = 52.0
    samples_per_notification: int = 8


def _imu_source(settings: SimSettings) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(accel g (N,3), gyro deg/s (N,3)) at ``settings.fs_hz``, from the recording if given."""
    if settings.recording is not None:
        from devices.recording import read_recording

        rec = read_recording(settings.recording)
        t_s = (rec.t_ns - rec.t_ns[0]) / 1e9
        grid = np.arange(0.0, float(t_s[-1]), 1.0 / settings.fs_hz)
        acc = np.column_stack([np.interp(grid, t_s, rec.accel_g[:, i]) for i in range(3)])
        gyro_src = rec.gyro_dps
        if gyro_src is None:
            gyro = np.zeros_like(acc)
        else:
            gyro = np.column_stack([np.interp(grid, t_s, gyro_src[:, i]) for i in range(3)])
        return acc, gyro
    n = int(settings.fs_hz * 60)
    ph = 2 * math.pi * 0.5 * np.arange(n) / settings.fs_hz
    acc = np.column_stack([0.1 * np.sin(ph), 0.05 * np.cos(ph), 1.0 + 0.02 * np.sin(2 * ph)])
    gyro = np.column_stack([20 * np.cos(ph), 5 * np.sin(ph), np.zeros(n)])
    return acc, gyro


class BlePeripheralSim:
    """A simulated wearable on a BlueZ adapter (see the module docstring).

    Use ``await sim.start(bus_address)`` then ``await sim.stop()``; everything runs on the
    caller's event loop.
    """

    def __init__(self, settings: SimSettings) -> None:
        if settings.profile not in PROFILES:
            raise CollectorError(
                "simulator", settings.profile, f"unknown profile; choose from {PROFILES}"
            )
        self.settings = settings
        self.name = settings.name or DEFAULT_NAMES[settings.profile]
        self.address = ""
        self.notifications_sent = 0
        self.malformed_sent = 0
        self.disconnects = 0
        self._bus: MessageBus | None = None
        self._chars: dict[str, _Characteristic] = {}
        self._streams: dict[str, asyncio.Task[None]] = {}
        self._inject: dict[str, int] = {}
        self._drop: dict[str, int] = {}
        self.dropped = 0
        self._acc, self._gyro = _imu_source(settings)
        self._adv: _Advertisement | None = None
        self._t0_loop: float | None = None
        self._paths: list[str] = []

    # -- public knobs ---------------------------------------------------------------------
    @property
    def start_notify_calls(self) -> dict[str, int]:
        """StartNotify calls received per characteristic UUID."""
        return {u: c.start_notify_calls for u, c in self._chars.items()}

    @property
    def primary_stream(self) -> str:
        """Key of the main stream (Movesense: the accelerometer subscription, reference 1)."""
        return {"movesense": "ms1", "polar_pmd": "pmd"}.get(self.settings.profile, "hr")

    def inject_malformed(self, count: int = 1, stream: str | None = None) -> None:
        """Replace the next ``count`` notifications of ``stream`` (default: the primary one)
        by bytes the decoder must refuse."""
        key = stream or self.primary_stream
        self._inject[key] = self._inject.get(key, 0) + count

    def drop_next(self, count: int = 1, stream: str | None = None) -> None:
        """Lose the next ``count`` notifications of ``stream`` (default: the primary one) on the
        air: their samples never arrive."""
        key = stream or self.primary_stream
        self._drop[key] = self._drop.get(key, 0) + count

    async def force_disconnect(self) -> None:
        """Drop the link as BlueZ reports a lost connection, then advertise again.

        What a wearable that goes out of range and comes back looks like to the central:

        1. the central's ``Device1`` goes to ``Connected=false`` (what bleak watches);
        2. BlueZ forgets the unbonded device (``Adapter1.RemoveDevice``; real BlueZ does this
           after its temporary-device timeout), so the next scan reports it afresh;
        3. the peripheral restarts its GATT server (new attribute handles; notifications off,
           as a real peripheral loses its CCCD state) and keeps advertising.
        """
        assert self._bus is not None
        for key in [k for k in self._streams if k != "hr"]:
            self._streams.pop(key).cancel()
        for ch in self._chars.values():
            ch.notifying = False
        dev = f"{self.settings.central_adapter}/dev_{self.address.replace(':', '_')}"
        await self._call(dev, "org.bluez.Device1", "Disconnect", "", [])
        await self._call(
            self.settings.central_adapter, "org.bluez.Adapter1", "RemoveDevice", "o", [dev]
        )
        await self._call(
            self.settings.adapter,
            "org.bluez.GattManager1",
            "UnregisterApplication",
            "o",
            [APP_PATH],
        )
        await self._register_application()
        self.disconnects += 1
        if self._adv is not None:
            self._adv.bump()

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, bus_address: str | None = None) -> None:
        """Connect to the bus (``bus_address`` or the system bus) and register GATT + advert."""
        try:
            if bus_address:
                bus = await MessageBus(bus_address=bus_address).connect()
            else:
                bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, ValueError, DBusError) as exc:
            raise CollectorError(
                "simulator", bus_address or "system bus", f"cannot connect to D-Bus: {exc}"
            ) from exc
        self._bus = bus
        self.address = str(
            await self._get_prop(self.settings.adapter, "org.bluez.Adapter1", "Address")
        )
        service_uuid = self._build_gatt()
        for path, iface in self._exports:
            bus.export(path, iface)
        await self._register_application()
        self._adv = _Advertisement(self.name, service_uuid)
        bus.export(ADV_PATH, self._adv)
        await self._call(
            self.settings.adapter,
            "org.bluez.LEAdvertisingManager1",
            "RegisterAdvertisement",
            "oa{sv}",
            [ADV_PATH, {}],
        )
        if self.settings.profile == "heart_rate":
            self._start_stream("hr", self._hr_payload)
        log.info(
            "simulated %s %r advertising on %s", self.settings.profile, self.name, self.address
        )

    async def stop(self) -> None:
        """Stop streaming and leave the bus (BlueZ drops the application and the advert)."""
        for task in self._streams.values():
            task.cancel()
        for task in list(self._streams.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._streams.clear()
        if self._bus is not None:
            self._bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._bus.wait_for_disconnect(), 5)
            self._bus = None

    # -- GATT layout ----------------------------------------------------------------------
    def _build_gatt(self) -> str:
        p = self.settings.profile
        spath = f"{APP_PATH}/service0"
        self._exports: list[tuple[str, ServiceInterface]] = []

        def add_char(
            uuid: str, flags: list[str], on_write: Callable[[bytes], None] | None = None
        ) -> None:
            ch = _Characteristic(uuid, spath, flags, on_write)
            self._chars[uuid] = ch
            self._exports.append((f"{spath}/char{len(self._chars) - 1}", ch))

        if p == "movesense":
            suuid = movesense.SERVICE_UUID
            self._exports.append((spath, _Service(suuid)))
            add_char(
                movesense.COMMAND_UUID, ["write", "write-without-response"], self._on_movesense
            )
            add_char(movesense.DATA_UUID, ["notify"])
        elif p == "polar_pmd":
            suuid = polar_pmd.SERVICE_UUID
            self._exports.append((spath, _Service(suuid)))
            add_char(polar_pmd.CONTROL_POINT_UUID, ["write", "indicate"], self._on_pmd)
            add_char(polar_pmd.DATA_UUID, ["notify"])
        elif p == "heart_rate":
            suuid = gatt_heart_rate.SERVICE_UUID
            self._exports.append((spath, _Service(suuid)))
            add_char(gatt_heart_rate.MEASUREMENT_UUID, ["notify"])
        else:
            suuid = UNKNOWN_SERVICE_UUID
            self._exports.append((spath, _Service(suuid)))
            add_char(UNKNOWN_CHAR_UUID, ["read", "notify"])
        return suuid

    # -- streaming ------------------------------------------------------------------------
    def _on_movesense(self, data: bytes) -> None:
        if len(data) >= 2 and data[0] == movesense.CMD_SUBSCRIBE:
            ref, path = data[1], data[2:].decode("ascii", "replace")
            gyro = "/Gyro/" in path
            self._start_stream(f"ms{ref}", lambda i, n: self._movesense_payload(ref, gyro, i, n))
        elif len(data) >= 2 and data[0] == movesense.CMD_UNSUBSCRIBE:
            self._stop_stream(f"ms{data[1]}")

    def _on_pmd(self, data: bytes) -> None:
        if data[:2] == bytes([polar_pmd.OP_START, polar_pmd.MEAS_ACC]):
            self._start_stream("pmd", self._pmd_payload)
        elif data[:2] == polar_pmd.stop_command():
            self._stop_stream("pmd")

    def _stop_stream(self, key: str) -> None:
        task = self._streams.pop(key, None)
        if task is not None:
            task.cancel()

    def _device_now_ns(self) -> int:
        """The device clock now (ns): it runs ``clock_ppm`` fast against the host's clock."""
        assert self._t0_loop is not None
        elapsed_s = asyncio.get_running_loop().time() - self._t0_loop
        return DEVICE_CLOCK_ORIGIN_NS + round(
            elapsed_s * 1e9 * (1.0 + self.settings.clock_ppm * 1e-6)
        )

    def _movesense_payload(self, ref: int, gyro: bool, i0: int, n: int) -> bytes:
        # The last sample is taken now; the first (n - 1) device sample periods earlier.
        # Movesense time is ms since power-on; this one was switched on an hour ago.
        first_ns = self._device_now_ns() - round((n - 1) * 1e9 / self.settings.fs_hz)
        ms = ((first_ns - DEVICE_CLOCK_ORIGIN_NS) // 1_000_000 + 3_600_000) & 0xFFFFFFFF
        src = self._gyro if gyro else self._acc * movesense.STANDARD_GRAVITY
        idx = np.arange(i0, i0 + n) % src.shape[0]
        body = src[idx].astype("<f4").tobytes()
        return bytes([movesense.RESP_DATA, ref]) + struct.pack("<I", ms) + body

    def _pmd_payload(self, i0: int, n: int) -> bytes:
        ts = self._device_now_ns()
        idx = np.arange(i0, i0 + n) % self._acc.shape[0]
        mg = np.clip(np.round(self._acc[idx] * 1000), -32768, 32767).astype("<i2")
        return bytes([polar_pmd.MEAS_ACC]) + struct.pack("<Q", ts) + b"\x01" + mg.tobytes()

    def _hr_payload(self, i0: int, n: int) -> bytes:
        bpm = 60 + (i0 // n) % 30
        rr = round(60.0 / bpm * 1024)
        return struct.pack("<BBH", 0x16, bpm, rr)

    def _start_stream(self, key: str, make: Callable[[int, int], bytes]) -> None:
        if key in self._streams:
            return
        data_uuid = {
            "movesense": movesense.DATA_UUID,
            "polar_pmd": polar_pmd.DATA_UUID,
            "heart_rate": gatt_heart_rate.MEASUREMENT_UUID,
        }[self.settings.profile]
        self._streams[key] = asyncio.get_running_loop().create_task(
            self._stream(key, self._chars[data_uuid], make)
        )

    async def _stream(
        self, key: str, ch: _Characteristic, make: Callable[[int, int], bytes]
    ) -> None:
        """Send notifications paced by the device clock.

        Sample i is due at real time t0 + i / (fs * (1 + ppm)); a notification leaves when its
        last sample is due and is stamped with the device clock read at that moment (so
        scheduling lateness is part of the sampling, not of the delivery delay).
        """
        loop = asyncio.get_running_loop()
        if self._t0_loop is None:
            self._t0_loop = loop.time()
        s = self.settings
        n = s.samples_per_notification if s.profile != "heart_rate" else int(s.fs_hz)
        real_period = 1.0 / (s.fs_hz * (1.0 + s.clock_ppm * 1e-6))
        i0 = int(math.ceil((loop.time() - self._t0_loop) / real_period))
        while True:
            due = self._t0_loop + (i0 + n - 1) * real_period
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not ch.notifying:
                await asyncio.sleep(0.01)
                continue
            if self._drop.get(key):
                self._drop[key] -= 1
                self.dropped += 1
                i0 += n
                continue
            if self._inject.get(key):
                self._inject[key] -= 1
                self.malformed_sent += 1
                payload = b"\x02\x01\x00"  # truncated: header promises a u32 timestamp
                if s.profile == "polar_pmd":
                    payload = b"\x02\x00\x01"
                elif s.profile == "heart_rate":
                    payload = b"\x11\x48\x00"
            else:
                payload = make(i0, n)
            ch.push(payload)
            self.notifications_sent += 1
            i0 += n

    # -- D-Bus helpers --------------------------------------------------------------------
    async def _register_application(self) -> None:
        """Register the exported GATT application (``APP_PATH``) with the adapter's
        ``GattManager1`` (BlueZ ``doc/org.bluez.GattManager.rst``)."""
        await self._call(
            self.settings.adapter,
            "org.bluez.GattManager1",
            "RegisterApplication",
            "oa{sv}",
            [APP_PATH, {}],
        )

    async def _call(self, path: str, iface: str, member: str, sig: str, body: list[Any]) -> Any:
        assert self._bus is not None
        reply = await self._bus.call(
            Message(
                destination="org.bluez",
                path=path,
                interface=iface,
                member=member,
                signature=sig,
                body=body,
            )
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            raise CollectorError(
                "simulator", f"{path} {iface}.{member}", f"failed: {reply and reply.body}"
            )
        return reply.body

    async def _get_prop(self, path: str, iface: str, name: str) -> Any:
        body = await self._call(path, "org.freedesktop.DBus.Properties", "Get", "ss", [iface, name])
        return body[0].value
