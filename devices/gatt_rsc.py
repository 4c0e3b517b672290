"""RSC Measurement (characteristic 0x2A53 of the Running Speed and Cadence service 0x1814).

Specification: Bluetooth SIG, *Running Speed and Cadence Service* 1.0 (RSCS_SPEC_V10)
section 3.1 and the GATT Specification Supplement, "RSC Measurement". Little-endian::

    byte 0      flags: bit0 Instantaneous Stride Length present
                       bit1 Total Distance present
                       bit2 walking (0) or running (1)
    byte 1-2    u16 instantaneous speed, 1/256 m/s
    byte 3      u8 instantaneous cadence, 1/min
    [u16 instantaneous stride length, 1/100 m]
    [u32 total distance, 1/10 m]

Whether cadence counts steps or strides differs by device; we keep the value as sent and say
so in ``meta["cadence_counts"] = "device-defined"``. No device clock: host time stamps samples.
"""

from __future__ import annotations

import struct

from devices.errors import DecodeError
from devices.frame import Frame, StreamKind
from devices.registry import Align, Characteristic, Profile, frame, need, sig_uuid

FAMILY = "rsc"
SERVICE_UUID = sig_uuid(0x1814)
MEASUREMENT_UUID = sig_uuid(0x2A53)


def decode(
    payload: bytes,
    *,
    subject: str,
    device: str,
    host_t_ns: int,
    seq: int,
    state: object = None,
    align: Align | None = None,
) -> list[Frame]:
    """Decode one RSC Measurement (0x2A53, RSCS 1.0 section 3.1).

    Returns ``speed`` (m/s), ``cadence`` (1/min; stride length in m in ``meta``) and, when
    present, ``distance`` (m) frames of one sample each at ``host_t_ns`` (UTC ns).

    Raises
    ------
    DecodeError
        Truncated fields or trailing bytes not announced by the flags.
    """
    payload = bytes(payload)
    need(payload, 0, 4, FAMILY, "flags, speed and cadence")
    flags = payload[0]
    speed_raw, cadence = struct.unpack_from("<HB", payload, 1)
    off = 4
    meta: dict[str, object] = {"running": bool(flags & 0x04), "cadence_counts": "device-defined"}
    if flags & 0x01:
        need(payload, off, 2, FAMILY, "u16 stride length")
        (stride,) = struct.unpack_from("<H", payload, off)
        meta["stride_m"] = stride / 100.0
        off += 2
    distance_m: float | None = None
    if flags & 0x02:
        need(payload, off, 4, FAMILY, "u32 total distance")
        (dist,) = struct.unpack_from("<I", payload, off)
        distance_m = dist / 10.0
        off += 4
    if len(payload) != off:
        raise DecodeError(FAMILY, off, f"{len(payload) - off} trailing byte(s) not in the flags")
    t = [host_t_ns]
    out = [
        frame(
            FAMILY,
            subject,
            device,
            StreamKind.SPEED,
            t,
            [speed_raw / 256.0],
            fs_hz=None,
            seq=seq,
            meta=meta,
        ),
        frame(
            FAMILY,
            subject,
            device,
            StreamKind.CADENCE,
            t,
            [float(cadence)],
            fs_hz=None,
            seq=seq,
            meta=meta,
        ),
    ]
    if distance_m is not None:
        out.append(
            frame(
                FAMILY, subject, device, StreamKind.DISTANCE, t, [distance_m], fs_hz=None, seq=seq
            )
        )
    return out


PROFILE = Profile(
    name="running_speed_cadence",
    service_uuid=SERVICE_UUID,
    characteristics=(
        Characteristic(
            MEASUREMENT_UUID,
            "RSC Measurement",
            decode,
            (StreamKind.SPEED, StreamKind.CADENCE, StreamKind.DISTANCE),
        ),
    ),
    spec="Bluetooth SIG Running Speed and Cadence Service 1.0, 0x2A53",
)
