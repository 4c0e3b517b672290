"""CSC Measurement (characteristic 0x2A5B of the Cycling Speed and Cadence service 0x1816).

Specification: Bluetooth SIG, *Cycling Speed and Cadence Service* 1.0 (CSCS_SPEC_V10)
section 3.1 and the GATT Specification Supplement, "CSC Measurement". Little-endian::

    byte 0      flags: bit0 Wheel Revolution Data present, bit1 Crank Revolution Data present
    [u32 cumulative wheel revolutions, u16 last wheel event time (1/1024 s)]
    [u16 cumulative crank revolutions, u16 last crank event time (1/1024 s)]

The counters roll over (u16 crank revolutions at 65536, event times every 64 s). A
:class:`CscState` carried between notifications unwraps them, so frames hold monotonic totals:
``wheel`` / ``crank`` frames with columns (revolutions, event time in s since the first
notification's rollover epoch). A gap longer than one rollover period cannot be seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.frame import Frame, StreamKind
from devices.registry import Characteristic, DecodeContext, Decoder, Fields, Profile, sig_uuid

FAMILY = "csc"
SERVICE_UUID = sig_uuid(0x1816)
MEASUREMENT_UUID = sig_uuid(0x2A5B)
EVENT_TIME_UNIT_S = 1.0 / 1024.0


@dataclass
class _Unwrap:
    modulus: int
    last: int | None = None
    offset: int = 0

    def peek(self, raw: int) -> tuple[int, int]:
        offset = self.offset
        if self.last is not None and raw < self.last:
            offset += self.modulus
        return raw + offset, offset

    def commit(self, raw: int, offset: int) -> None:
        self.last, self.offset = raw, offset


@dataclass
class CscState:
    """Rollover bookkeeping for the CSC counters (one per subscribed characteristic)."""

    wheel_revs: _Unwrap = field(default_factory=lambda: _Unwrap(1 << 32))
    wheel_time: _Unwrap = field(default_factory=lambda: _Unwrap(1 << 16))
    crank_revs: _Unwrap = field(default_factory=lambda: _Unwrap(1 << 16))
    crank_time: _Unwrap = field(default_factory=lambda: _Unwrap(1 << 16))


def _decode(payload: bytes, ctx: DecodeContext, st: CscState) -> list[Frame]:
    """Decode one CSC Measurement (0x2A5B, CSCS 1.0 section 3.1).

    Returns ``wheel`` and/or ``crank`` frames of one sample at ``host_t_ns`` (UTC ns) with
    columns (cumulative revolutions, last event time in s), both unwrapped through ``state``
    (a :class:`CscState`; pass a fresh one per stream, or None to skip unwrapping).

    Raises
    ------
    DecodeError
        Truncated fields or trailing bytes not announced by the flags.
    """
    fields = Fields(payload, FAMILY)
    (flags,) = fields.take("<B", "flags")
    pending: list[tuple[_Unwrap, int, int]] = []
    out: list[Frame] = []
    parts: list[tuple[StreamKind, float, float]] = []
    blocks = (
        (0x01, "<IH", "wheel revolution data", StreamKind.WHEEL, st.wheel_revs, st.wheel_time),
        (0x02, "<HH", "crank revolution data", StreamKind.CRANK, st.crank_revs, st.crank_time),
    )
    for bit, layout, what, kind, revs_unwrap, time_unwrap in blocks:
        if not flags & bit:
            continue
        revs, evt = fields.take(layout, what)
        r, ro = revs_unwrap.peek(revs)
        e, eo = time_unwrap.peek(evt)
        pending += [(revs_unwrap, revs, ro), (time_unwrap, evt, eo)]
        parts.append((kind, float(r), e * EVENT_TIME_UNIT_S))
    fields.end()
    for kind, revs_total, time_s in parts:
        out.append(ctx.at_host(kind, [revs_total, time_s]))
    for unwrap, raw, offset in pending:
        unwrap.commit(raw, offset)
    return out


decode = Decoder(FAMILY, _decode, (StreamKind.WHEEL, StreamKind.CRANK), CscState)

PROFILE = Profile(
    name="cycling_speed_cadence",
    service_uuid=SERVICE_UUID,
    characteristics=(Characteristic(MEASUREMENT_UUID, "CSC Measurement", decode),),
    spec="Bluetooth SIG Cycling Speed and Cadence Service 1.0, 0x2A5B",
)
