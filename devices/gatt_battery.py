"""Battery Level (characteristic 0x2A19 of the Battery Service 0x180F).

Specification: Bluetooth SIG, *Battery Service* 1.0 (BAS_SPEC_V10) section 3.1 and the GATT
Specification Supplement, "Battery Level": one u8, percent of full charge, 0-100.
"""

from __future__ import annotations

from devices.errors import DecodeError
from devices.frame import Frame, StreamKind
from devices.registry import Characteristic, DecodeContext, Decoder, Profile, need, sig_uuid

FAMILY = "battery"
SERVICE_UUID = sig_uuid(0x180F)
LEVEL_UUID = sig_uuid(0x2A19)


def _decode(payload: bytes, ctx: DecodeContext, _state: None) -> list[Frame]:
    """Decode a Battery Level value (0x2A19, BAS 1.0 section 3.1) into one ``battery`` sample.

    Units: percent (0-100), stamped at ``host_t_ns`` (UTC ns).

    Raises
    ------
    DecodeError
        Not exactly one byte, or a level above 100.

    Examples
    --------
    >>> [f] = decode(bytes([0x57]), subject="P001", device="hr-1", host_t_ns=1_794_000_000_000_000_000, seq=0)
    >>> f.values.tolist(), f.t_ns.tolist()
    ([[87.0]], [1794000000000000000])
    >>> decode(bytes([101]), subject="P001", device="hr-1", host_t_ns=1_794_000_000_000_000_000, seq=0)
    Traceback (most recent call last):
    ...
    devices.errors.DecodeError: ...battery level 101 % is above 100...
    """
    need(payload, 0, 1, FAMILY, "u8 battery level")
    if len(payload) != 1:
        raise DecodeError(FAMILY, 1, f"battery level is 1 byte, got {len(payload)}")
    if payload[0] > 100:
        raise DecodeError(FAMILY, 0, f"battery level {payload[0]} % is above 100")
    return [ctx.at_host(StreamKind.BATTERY, float(payload[0]))]


decode = Decoder(FAMILY, _decode, (StreamKind.BATTERY,))

PROFILE = Profile(
    name="battery",
    service_uuid=SERVICE_UUID,
    characteristics=(Characteristic(LEVEL_UUID, "Battery Level", decode),),
    spec="Bluetooth SIG Battery Service 1.0, 0x2A19",
    optional=True,
)
