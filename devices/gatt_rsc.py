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

from devices.frame import Frame, StreamKind
from devices.registry import Characteristic, DecodeContext, Decoder, Fields, Profile, sig_uuid

FAMILY = "rsc"
SERVICE_UUID = sig_uuid(0x1814)
MEASUREMENT_UUID = sig_uuid(0x2A53)


def _decode(payload: bytes, ctx: DecodeContext, _state: None) -> list[Frame]:
    """Decode one RSC Measurement (0x2A53, RSCS 1.0 section 3.1).

    Returns ``speed`` (m/s), ``cadence`` (1/min; stride length in m in ``meta``) and, when
    present, ``distance`` (m) frames of one sample each at ``host_t_ns`` (UTC ns).

    Raises
    ------
    DecodeError
        Truncated fields or trailing bytes not announced by the flags.
    """
    fields = Fields(payload, FAMILY)
    flags, speed_raw, cadence = fields.take("<BHB", "flags, speed and cadence")
    meta: dict[str, object] = {"running": bool(flags & 0x04), "cadence_counts": "device-defined"}
    if flags & 0x01:
        (stride,) = fields.take("<H", "u16 stride length")
        meta["stride_m"] = stride / 100.0
    distance_m: float | None = None
    if flags & 0x02:
        (dist,) = fields.take("<I", "u32 total distance")
        distance_m = dist / 10.0
    fields.end()
    out = [
        ctx.at_host(StreamKind.SPEED, speed_raw / 256.0, meta=meta),
        ctx.at_host(StreamKind.CADENCE, float(cadence), meta=meta),
    ]
    if distance_m is not None:
        out.append(ctx.at_host(StreamKind.DISTANCE, distance_m))
    return out


decode = Decoder(FAMILY, _decode, (StreamKind.SPEED, StreamKind.CADENCE, StreamKind.DISTANCE))

PROFILE = Profile(
    name="running_speed_cadence",
    service_uuid=SERVICE_UUID,
    characteristics=(Characteristic(MEASUREMENT_UUID, "RSC Measurement", decode),),
    spec="Bluetooth SIG Running Speed and Cadence Service 1.0, 0x2A53",
)
