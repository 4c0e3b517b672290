"""Heart Rate Measurement (characteristic 0x2A37 of the Heart Rate service 0x180D).

Specification: Bluetooth SIG, *Heart Rate Service* 1.0 (HRS_SPEC_V10) section 3.1 and the
GATT Specification Supplement, "Heart Rate Measurement". All fields little-endian::

    byte 0      flags: bit0 HR format (0 = u8, 1 = u16) in beats/min
                       bits1-2 sensor contact (0/1 unsupported, 2 not detected, 3 detected)
                       bit3 Energy Expended present (u16, kJ)
                       bit4 RR-Interval present (one or more u16, units 1/1024 s)
    byte 1..    heart rate (u8 or u16), [energy expended u16], [RR u16 ...]

The sensor has no clock: the heart-rate sample is stamped with the host receive time; RR
intervals end at the host receive time and are laid back-to-back before it.
"""

from __future__ import annotations

import struct

import numpy as np

from devices.errors import DecodeError
from devices.frame import Frame, StreamKind
from devices.registry import Characteristic, DecodeContext, Decoder, Fields, Profile, sig_uuid

FAMILY = "heart_rate"
SERVICE_UUID = sig_uuid(0x180D)
MEASUREMENT_UUID = sig_uuid(0x2A37)
RR_UNIT_S = 1.0 / 1024.0


def _decode(payload: bytes, ctx: DecodeContext, _state: None) -> list[Frame]:
    """Decode one Heart Rate Measurement notification (0x2A37, HRS 1.0 section 3.1).

    Returns a ``heart_rate`` frame (1 sample, beats/min, at ``host_t_ns`` UTC ns) and, when
    present, an ``rr_interval`` frame (seconds; each interval stamped at its end, the last one
    at ``host_t_ns``). ``state`` and ``align`` are unused (no device clock).

    Raises
    ------
    DecodeError
        Empty payload, truncated field, or an odd number of RR bytes.
    """
    fields = Fields(payload, FAMILY)
    (flags,) = fields.take("<B", "flags")
    if flags & 0x01:
        (hr,) = fields.take("<H", "u16 heart rate")
    else:
        (hr,) = fields.take("<B", "u8 heart rate")
    contact_bits = (flags >> 1) & 0x03
    contact = None if contact_bits < 2 else contact_bits == 3
    meta: dict[str, object] = {"sensor_contact": contact}
    if flags & 0x08:
        (meta["energy_kj"],) = fields.take("<H", "u16 energy expended")
    rr_s: list[float] = []
    if flags & 0x10:
        rest = fields.rest()
        if not rest or len(rest) % 2:
            raise DecodeError(
                FAMILY, fields.offset, f"RR-interval block of {len(rest)} byte(s) is not whole u16s"
            )
        rr_s = [v * RR_UNIT_S for (v,) in struct.iter_unpack("<H", rest)]
    else:
        fields.end()
    frames = [ctx.at_host(StreamKind.HEART_RATE, float(hr), meta=meta)]
    if rr_s:
        rr_ns = np.round(np.asarray(rr_s) * 1e9).astype(np.int64)
        after = np.concatenate([np.cumsum(rr_ns[::-1])[::-1][1:], [0]]).astype(np.int64)
        frames.append(ctx.frame(StreamKind.RR_INTERVAL, np.int64(ctx.host_t_ns) - after, rr_s))
    return frames


decode = Decoder(FAMILY, _decode, (StreamKind.HEART_RATE, StreamKind.RR_INTERVAL))

PROFILE = Profile(
    name="heart_rate",
    service_uuid=SERVICE_UUID,
    characteristics=(Characteristic(MEASUREMENT_UUID, "Heart Rate Measurement", decode),),
    spec="Bluetooth SIG Heart Rate Service 1.0, 0x2A37",
)
