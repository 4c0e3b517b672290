"""WitMotion BWT901BLE (and BWT901BLECL) inertial sensor.

Specification: WitMotion *BWT901BLE5.0 manual / communication protocol* ("WT901BLE"
protocol). Service ``0000ffe5-0000-1000-8000-00805f9a34fb``, notify ``0000ffe4-...``.
A notification holds one or more 20-byte packets::

    byte 0-1    55 61   (default output packet: acceleration, angular velocity, angle)
    byte 2-19   9 x int16 little-endian:
                ax, ay, az   x 16 / 32768   g
                wx, wy, wz   x 2000 / 32768 deg/s
                roll, pitch, yaw  x 180 / 32768 deg
    (55 71 packets answer register reads and carry no samples: they are skipped.)

The sensor has no timestamp; the host receive time stamps the last packet and earlier packets
in the same notification are placed back at the output rate (``WitMotionState.fs_hz``,
factory default 10 Hz).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices.errors import DecodeError
from devices.frame import Frame, StreamKind
from devices.registry import Characteristic, DecodeContext, Decoder, Profile, need, spaced_before

FAMILY = "witmotion"
SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
PACKET_BYTES = 20
ACC_G_PER_LSB = 16.0 / 32768.0
GYRO_DPS_PER_LSB = 2000.0 / 32768.0
ANGLE_DEG_PER_LSB = 180.0 / 32768.0


@dataclass
class WitMotionState:
    """Output rate in Hz (set on the device; used to space packets of one notification)."""

    fs_hz: float = 10.0


#: The three streams of a packet: kind, int16 columns, scale to the stream's units.
_STREAMS = (
    (StreamKind.ACCEL, slice(0, 3), ACC_G_PER_LSB),
    (StreamKind.GYRO, slice(3, 6), GYRO_DPS_PER_LSB),
    (StreamKind.ORIENTATION, slice(6, 9), ANGLE_DEG_PER_LSB),
)


def _decode(payload: bytes, ctx: DecodeContext, st: WitMotionState) -> list[Frame]:
    """Decode one BWT901BLE notification (WitMotion WT901BLE protocol, packet ``55 61``).

    Returns ``accel`` (g), ``gyro`` (deg/s) and ``orientation`` (roll, pitch, yaw in deg)
    frames stamped from ``host_t_ns`` (UTC ns); no ``device_t_ns`` (no device clock).

    Raises
    ------
    DecodeError
        Length not a multiple of 20, a packet without the 0x55 header, or an unknown flag.
    """
    need(payload, 0, PACKET_BYTES, FAMILY, "20-byte packet")
    if len(payload) % PACKET_BYTES:
        raise DecodeError(
            FAMILY,
            len(payload) - len(payload) % PACKET_BYTES,
            f"{len(payload)} bytes is not a whole number of 20-byte packets",
        )
    rows = []
    for off in range(0, len(payload), PACKET_BYTES):
        if payload[off] != 0x55:
            raise DecodeError(FAMILY, off, f"packet header {payload[off]:#04x} is not 0x55")
        flag = payload[off + 1]
        if flag == 0x71:
            continue
        if flag != 0x61:
            raise DecodeError(FAMILY, off + 1, f"unknown packet flag {flag:#04x}")
        rows.append(np.frombuffer(payload, dtype="<i2", count=9, offset=off + 2))
    if not rows:
        return []
    raw = np.asarray(rows, dtype=np.float64)
    t = spaced_before(ctx.host_t_ns, raw.shape[0], st.fs_hz)
    return [
        ctx.frame(kind, t, raw[:, cols] * scale, fs_hz=st.fs_hz) for kind, cols, scale in _STREAMS
    ]


decode = Decoder(
    FAMILY, _decode, (StreamKind.ACCEL, StreamKind.GYRO, StreamKind.ORIENTATION), WitMotionState
)

PROFILE = Profile(
    name="witmotion_bwt901ble",
    service_uuid=SERVICE_UUID,
    characteristics=(Characteristic(NOTIFY_UUID, "BWT901BLE data", decode),),
    spec="WitMotion BWT901BLE protocol, packet 0x55 0x61",
)
