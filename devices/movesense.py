"""Movesense GATT SensorData service (the ``gatt_sensordata_app`` firmware sample).

Specification: Movesense device library, ``samples/gatt_sensordata_app`` (README and its
Python client), with the Movesense API for ``/Meas/Acc`` and ``/Meas/Gyro``. Service
``34802252-7185-4d5d-b431-630e7050e8f0``; write ``34800001-...``; notify ``34800002-...``.
Little-endian::

    command (write):  01 <ref u8> <resource path, ASCII, e.g. "/Meas/Acc/52">   subscribe
                      02 <ref u8>                                             unsubscribe
    notification:     byte 0 response type (01 command result, 02 data)
                      byte 1 reference given at subscription
                      data: u32 timestamp (ms, device clock, time of the FIRST sample),
                            then N x (float32 x, y, z)

``/Meas/Acc`` is in m/s^2 (frames carry g, divided by 9.80665); ``/Meas/Gyro`` in deg/s.
Per-sample device times are rebuilt forward from the timestamp at the subscribed rate. The u32
millisecond counter wraps after about 49.7 days; :class:`MovesenseState` unwraps it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from devices.errors import DecodeError
from devices.frame import Frame, StreamKind
from devices.registry import Characteristic, DecodeContext, Decoder, Profile, need

FAMILY = "movesense"
SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
COMMAND_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
DATA_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
CMD_SUBSCRIBE = 0x01
CMD_UNSUBSCRIBE = 0x02
RESP_COMMAND_RESULT = 0x01
RESP_DATA = 0x02
STANDARD_GRAVITY = 9.80665
MAX_SAMPLES = 1024


def subscribe_command(ref: int, path: str) -> bytes:
    """Write bytes that subscribe ``path`` (e.g. ``/Meas/Acc/52``, rate in Hz) under ``ref``."""
    return bytes([CMD_SUBSCRIBE, ref]) + path.encode("ascii")


def unsubscribe_command(ref: int) -> bytes:
    """Write bytes that end the subscription ``ref``."""
    return bytes([CMD_UNSUBSCRIBE, ref])


@dataclass
class MovesenseState:
    """Subscriptions (reference -> stream kind and rate in Hz) and the ms-counter unwrap."""

    refs: dict[int, tuple[StreamKind, float]] = field(
        default_factory=lambda: {1: (StreamKind.ACCEL, 52.0), 2: (StreamKind.GYRO, 52.0)}
    )
    last_ms: dict[int, int] = field(default_factory=dict)
    wraps: dict[int, int] = field(default_factory=dict)


def _decode(payload: bytes, ctx: DecodeContext, st: MovesenseState) -> list[Frame]:
    """Decode one SensorData notification (Movesense ``gatt_sensordata_app``).

    Returns one ``accel`` (g) or ``gyro`` (deg/s) frame, chosen by the subscription reference.
    ``device_t_ns`` is device time in ns (unwrapped u32 ms + i/fs); ``t_ns`` is UTC ns from
    ``align`` (default: last sample at ``host_t_ns``). Command results return no frames.

    Raises
    ------
    DecodeError
        Unknown response type or reference, truncated or non-whole samples, NaN/inf values.
    """
    need(payload, 0, 2, FAMILY, "response type and reference")
    rtype, ref = payload[0], payload[1]
    if rtype == RESP_COMMAND_RESULT:
        return []
    if rtype != RESP_DATA:
        raise DecodeError(FAMILY, 0, f"unknown response type {rtype:#04x}")
    if ref not in st.refs:
        raise DecodeError(FAMILY, 1, f"reference {ref} was not subscribed")
    kind, fs_hz = st.refs[ref]
    need(payload, 2, 4, FAMILY, "u32 timestamp")
    (ms,) = struct.unpack_from("<I", payload, 2)
    body = payload[6:]
    if not body or len(body) % 12:
        raise DecodeError(FAMILY, 6, f"{len(body)} sample byte(s) is not a whole number of 12")
    n = len(body) // 12
    if n > MAX_SAMPLES:
        raise DecodeError(FAMILY, 6, f"more than {MAX_SAMPLES} samples")
    vals = np.frombuffer(body, dtype="<f4").astype(np.float64).reshape(n, 3)
    if not np.all(np.isfinite(vals)):
        bad = int(np.argmax(~np.isfinite(vals.ravel())))
        raise DecodeError(FAMILY, 6 + 4 * bad, "sample is NaN or infinite")
    if kind is StreamKind.ACCEL:
        vals = vals / STANDARD_GRAVITY
    wraps = st.wraps.get(ref, 0)
    if ref in st.last_ms and ms < st.last_ms[ref] and st.last_ms[ref] - ms > (1 << 31):
        wraps += 1
    first_ns = ((wraps << 32) + ms) * 1_000_000
    step = 1e9 / fs_hz
    device_t = np.int64(first_ns) + np.array(
        [math.floor(i * step + 0.5) for i in range(n)], dtype=np.int64
    )
    out = [
        ctx.frame(
            kind, ctx.to_utc(device_t), vals, fs_hz=fs_hz, device_t_ns=device_t, meta={"ref": ref}
        )
    ]
    st.last_ms[ref] = ms
    st.wraps[ref] = wraps
    return out


decode = Decoder(FAMILY, _decode, (StreamKind.ACCEL, StreamKind.GYRO), MovesenseState)

PROFILE = Profile(
    name="movesense",
    service_uuid=SERVICE_UUID,
    characteristics=(Characteristic(DATA_UUID, "SensorData notify", decode),),
    spec="Movesense gatt_sensordata_app (GATT SensorData), /Meas/Acc and /Meas/Gyro",
    start=(
        (COMMAND_UUID, subscribe_command(1, "/Meas/Acc/52")),
        (COMMAND_UUID, subscribe_command(2, "/Meas/Gyro/52")),
    ),
    stop=((COMMAND_UUID, unsubscribe_command(1)), (COMMAND_UUID, unsubscribe_command(2))),
    device_clock=True,
)
