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

import struct
from dataclasses import dataclass, field

from devices.errors import DecodeError
from devices.frame import Frame, StreamKind
from devices.registry import Align, Characteristic, Profile, frame, need, sig_uuid

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


def decode(
    payload: bytes,
    *,
    subject: str,
    device: str,
    host_t_ns: int,
    seq: int,
    state: CscState | None = None,
    align: Align | None = None,
) -> list[Frame]:
    """Decode one CSC Measurement (0x2A5B, CSCS 1.0 section 3.1).

    Returns ``wheel`` and/or ``crank`` frames of one sample at ``host_t_ns`` (UTC ns) with
    columns (cumulative revolutions, last event time in s), both unwrapped through ``state``
    (a :class:`CscState`; pass a fresh one per stream, or None to skip unwrapping).

    Raises
    ------
    DecodeError
        Truncated fields or trailing bytes not announced by the flags.
    """
    payload = bytes(payload)
    need(payload, 0, 1, FAMILY, "flags")
    flags = payload[0]
    off = 1
    st = state if state is not None else CscState()
    pending: list[tuple[_Unwrap, int, int]] = []
    out: list[Frame] = []
    parts: list[tuple[StreamKind, float, float]] = []
    if flags & 0x01:
        need(payload, off, 6, FAMILY, "wheel revolution data")
        revs, evt = struct.unpack_from("<IH", payload, off)
        off += 6
        r, ro = st.wheel_revs.peek(revs)
        e, eo = st.wheel_time.peek(evt)
        pending += [(st.wheel_revs, revs, ro), (st.wheel_time, evt, eo)]
        parts.append((StreamKind.WHEEL, float(r), e * EVENT_TIME_UNIT_S))
    if flags & 0x02:
        need(payload, off, 4, FAMILY, "crank revolution data")
        revs, evt = struct.unpack_from("<HH", payload, off)
        off += 4
        r, ro = st.crank_revs.peek(revs)
        e, eo = st.crank_time.peek(evt)
        pending += [(st.crank_revs, revs, ro), (st.crank_time, evt, eo)]
        parts.append((StreamKind.CRANK, float(r), e * EVENT_TIME_UNIT_S))
    if len(payload) != off:
        raise DecodeError(FAMILY, off, f"{len(payload) - off} trailing byte(s) not in the flags")
    for kind, revs_total, time_s in parts:
        out.append(
            frame(
                FAMILY,
                subject,
                device,
                kind,
                [host_t_ns],
                [[revs_total, time_s]],
                fs_hz=None,
                seq=seq,
            )
        )
    for unwrap, raw, offset in pending:
        unwrap.commit(raw, offset)
    return out


PROFILE = Profile(
    name="cycling_speed_cadence",
    service_uuid=SERVICE_UUID,
    characteristics=(
        Characteristic(
            MEASUREMENT_UUID,
            "CSC Measurement",
            decode,
            (StreamKind.WHEEL, StreamKind.CRANK),
            make_state=CscState,
        ),
    ),
    spec="Bluetooth SIG Cycling Speed and Cadence Service 1.0, 0x2A5B",
)
