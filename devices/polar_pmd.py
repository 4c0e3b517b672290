"""Polar Measurement Data (PMD) accelerometer stream (Polar H10, Verity Sense, OH1).

Specification: Polar's ``polar-ble-sdk`` technical documentation (``technical_documentation/``
"Polar Measurement Data specification" and "TimeSystemExplained.md"). Service
``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``, control point ``...5C81`` (write/indicate), data
``...5C82`` (notify). Little-endian throughout.

Control point commands (:func:`start_command`, :func:`stop_command`)::

    02 <type> [<setting type> <count> <u16 value> ...]   start measurement
    03 <type>                                           stop measurement
    setting types: 00 sample rate (Hz), 01 resolution (bits), 02 range (G)
    measurement type 02 = accelerometer

Data frame (notification on 5C82)::

    byte 0      measurement type (02 = ACC)
    byte 1-8    u64 timestamp of the LAST sample, ns since 2000-01-01T00:00:00 (sensor time)
    byte 9      frame type: bit7 = delta-compressed, bits0-6 = type
    byte 10..   samples
        raw type 00: int8 x, y, z per sample; 01: int16 x, y, z; 02: int24 x, y, z
        compressed (0x80 | t): reference sample of 3 signed ints of ``resolution`` bits
        rounded up to bytes, then blocks ``<u8 delta bit width> <u8 sample count>
        <count*3*width bits, LSB first, padded to a byte>``; each delta (two's complement in
        ``width`` bits) is added to the previous sample.

Values are mG; frames carry g. Several samples share one timestamp: earlier samples are placed
back from it at the sample rate set by the start command (held in :class:`PmdState`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from devices.errors import DecodeError
from devices.frame import Frame, StreamKind
from devices.registry import Characteristic, DecodeContext, Decoder, Profile, need, spaced_before

FAMILY = "polar_pmd"
SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
MEAS_ACC = 0x02
OP_START = 0x02
OP_STOP = 0x03
SETTING_SAMPLE_RATE = 0x00
SETTING_RESOLUTION = 0x01
SETTING_RANGE = 0x02
POLAR_EPOCH_UNIX_NS = 946_684_800_000_000_000
"""2000-01-01T00:00:00Z in Unix ns: the zero of Polar sensor time."""
MAX_SAMPLES = 4096


def start_command(fs_hz: int = 52, resolution_bits: int = 16, range_g: int = 8) -> bytes:
    """Control-point bytes that start the accelerometer stream (sample rate in Hz, range in G).

    Follows the PMD specification: ``02 02 00 01 <fs u16> 01 01 <res u16> 02 01 <range u16>``.
    """
    return bytes([OP_START, MEAS_ACC]) + b"".join(
        struct.pack("<BBH", setting, 1, value)
        for setting, value in (
            (SETTING_SAMPLE_RATE, fs_hz),
            (SETTING_RESOLUTION, resolution_bits),
            (SETTING_RANGE, range_g),
        )
    )


def stop_command() -> bytes:
    """Control-point bytes that stop the accelerometer stream: ``03 02``."""
    return bytes([OP_STOP, MEAS_ACC])


@dataclass
class PmdState:
    """Stream settings the data frames do not repeat: sample rate (Hz) and resolution (bits)."""

    fs_hz: float = 52.0
    resolution_bits: int = 16


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _raw_samples(payload: bytes, off: int, frame_type: int) -> np.ndarray:
    widths = {0: 1, 1: 2, 2: 3}
    if frame_type not in widths:
        raise DecodeError(FAMILY, 9, f"unknown accelerometer frame type {frame_type}")
    w = widths[frame_type]
    body = payload[off:]
    if not body or len(body) % (3 * w):
        raise DecodeError(
            FAMILY, off, f"{len(body)} sample byte(s) is not a whole number of {3 * w}-byte samples"
        )
    vals = [
        _signed(int.from_bytes(body[i : i + w], "little"), 8 * w) for i in range(0, len(body), w)
    ]
    return np.asarray(vals, dtype=np.float64).reshape(-1, 3)


def _delta_samples(payload: bytes, off: int, resolution_bits: int) -> np.ndarray:
    ref_w = (resolution_bits + 7) // 8
    need(payload, off, 3 * ref_w, FAMILY, "reference sample")
    prev = [
        _signed(
            int.from_bytes(payload[off + i * ref_w : off + (i + 1) * ref_w], "little"), 8 * ref_w
        )
        for i in range(3)
    ]
    off += 3 * ref_w
    out = [list(prev)]
    while off < len(payload):
        need(payload, off, 2, FAMILY, "delta block header")
        width, count = payload[off], payload[off + 1]
        if not 1 <= width <= 32:
            raise DecodeError(FAMILY, off, f"delta bit width {width} outside 1-32")
        off += 2
        nbytes = (count * 3 * width + 7) // 8
        need(payload, off, nbytes, FAMILY, f"{count} deltas of {width} bits")
        bits = int.from_bytes(payload[off : off + nbytes], "little")
        mask = (1 << width) - 1
        pos = 0
        for _ in range(count):
            for axis in range(3):
                prev[axis] += _signed((bits >> pos) & mask, width)
                pos += width
            out.append(list(prev))
        if len(out) > MAX_SAMPLES:
            raise DecodeError(FAMILY, off, f"more than {MAX_SAMPLES} samples in one frame")
        off += nbytes
    return np.asarray(out, dtype=np.float64)


def _decode(payload: bytes, ctx: DecodeContext, st: PmdState) -> list[Frame]:
    """Decode one PMD accelerometer data frame (polar-ble-sdk PMD specification).

    Returns one ``accel`` frame in g. ``device_t_ns`` holds sensor time (ns since 2000-01-01,
    per sample, rebuilt back from the frame timestamp at ``state.fs_hz``); ``t_ns`` is UTC ns
    from ``align(device_t_ns, host_t_ns)`` (default: last sample at ``host_t_ns``).

    Raises
    ------
    DecodeError
        Short header, a measurement type other than accelerometer, an unknown frame type,
        a timestamp beyond int64, or truncated sample data.
    """
    need(payload, 0, 10, FAMILY, "PMD data header")
    if payload[0] != MEAS_ACC:
        raise DecodeError(FAMILY, 0, f"measurement type {payload[0]:#04x} is not ACC (0x02)")
    (ts,) = struct.unpack_from("<Q", payload, 1)
    if ts >= 1 << 63:
        raise DecodeError(FAMILY, 1, f"timestamp {ts} ns exceeds int64")
    ftype = payload[9]
    if ftype & 0x80:
        mg = _delta_samples(payload, 10, st.resolution_bits)
    else:
        mg = _raw_samples(payload, 10, ftype)
    n = mg.shape[0]
    if n > MAX_SAMPLES:
        raise DecodeError(FAMILY, 10, f"more than {MAX_SAMPLES} samples in one frame")
    device_t = spaced_before(ts, n, st.fs_hz)
    return [
        ctx.frame(
            StreamKind.ACCEL,
            ctx.to_utc(device_t),
            mg / 1000.0,
            fs_hz=st.fs_hz,
            device_t_ns=device_t,
            meta={"frame_type": ftype, "device_epoch": "2000-01-01"},
        )
    ]


decode = Decoder(FAMILY, _decode, (StreamKind.ACCEL,), PmdState)

PROFILE = Profile(
    name="polar_pmd",
    service_uuid=SERVICE_UUID,
    characteristics=(Characteristic(DATA_UUID, "PMD data (ACC)", decode),),
    spec="Polar polar-ble-sdk PMD specification (ACC, frame types 0-2 and delta-compressed)",
    start=((CONTROL_POINT_UUID, start_command(52, 16, 8)),),
    stop=((CONTROL_POINT_UUID, stop_command()),),
    device_clock=True,
)
