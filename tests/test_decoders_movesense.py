"""Movesense GATT SensorData decoder (gatt_sensordata_app).

Vectors by hand from the Movesense gatt_sensordata_app sample: notification = response type
(02 data), subscription reference, u32 timestamp in ms (first sample), float32 x/y/z per sample.
Floats are chosen exactly representable: 1.0 = 00 00 80 3F, -2.0 = 00 00 00 C0, 0.5 = 00 00 00 3F.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import movesense
from devices.errors import DecodeError
from devices.frame import StreamKind

HOST = 1_795_000_000_000_000_000
KW: dict[str, Any] = {"subject": "P001", "device": "0C:8C:DC:00:00:01", "host_t_ns": HOST, "seq": 1}
ONE, MINUS_TWO, HALF, ZERO = (
    b"\x00\x00\x80\x3f",
    b"\x00\x00\x00\xc0",
    b"\x00\x00\x00\x3f",
    b"\x00" * 4,
)
FUZZ = settings(max_examples=300, derandomize=True, deadline=None)


def state_50hz() -> movesense.MovesenseState:
    return movesense.MovesenseState(refs={1: (StreamKind.ACCEL, 50.0), 2: (StreamKind.GYRO, 50.0)})


def test_subscribe_and_unsubscribe_commands():
    # 01 subscribe, 01 reference, ASCII "/Meas/Acc/52"
    assert movesense.subscribe_command(1, "/Meas/Acc/52") == bytes.fromhex(
        "0101 2f4d6561732f4163632f3532"
    )
    assert movesense.unsubscribe_command(1) == bytes([0x02, 0x01])


def test_accelerometer_two_samples():
    # 02 data | 01 ref (acc) | E8 03 00 00 = 1000 ms | (1.0, -2.0, 0.5) | (0, 0, 1.0) m/s^2
    payload = b"\x02\x01\xe8\x03\x00\x00" + ONE + MINUS_TWO + HALF + ZERO + ZERO + ONE
    (f,) = movesense.decode(payload, **KW, state=state_50hz())
    assert f.stream is StreamKind.ACCEL
    g = 9.80665
    assert f.values.tolist() == [[1.0 / g, -2.0 / g, 0.5 / g], [0.0, 0.0, 1.0 / g]]
    assert f.device_t_ns is not None
    assert f.device_t_ns.tolist() == [1_000_000_000, 1_020_000_000]  # first sample at ts
    assert f.t_ns.tolist() == [HOST - 20_000_000, HOST]
    assert f.meta["ref"] == 1


def test_gyroscope_reference_in_deg_per_s():
    # 02 | 02 ref (gyro) | 10 00 00 00 = 16 ms | (0.5, 1.0, -2.0) deg/s
    (f,) = movesense.decode(
        b"\x02\x02\x10\x00\x00\x00" + HALF + ONE + MINUS_TWO, **KW, state=state_50hz()
    )
    assert f.stream is StreamKind.GYRO and f.values.tolist() == [[0.5, 1.0, -2.0]]
    assert f.device_t_ns is not None and f.device_t_ns.tolist() == [16_000_000]


def test_millisecond_counter_wrap():
    st_ = state_50hz()
    # 00 FF FF FF = 0xFFFFFF00 ms, then 10 00 00 00 = 16 ms after the u32 wrapped
    movesense.decode(b"\x02\x01\x00\xff\xff\xff" + ZERO * 3, **KW, state=st_)
    (f,) = movesense.decode(b"\x02\x01\x10\x00\x00\x00" + ZERO * 3, **KW, state=st_)
    assert f.device_t_ns is not None and f.device_t_ns.tolist() == [((1 << 32) + 16) * 1_000_000]


def test_command_result_gives_no_frames():
    # 01 command result | 01 ref | status 200 (C8 00)
    assert movesense.decode(b"\x01\x01\xc8\x00", **KW, state=state_50hz()) == []


@pytest.mark.parametrize(
    ("payload", "offset", "match"),
    [
        (b"", 0, "response type"),
        (b"\x02", 0, "response type"),
        (b"\x03\x01", 0, "unknown response type"),
        (b"\x02\x05\x00\x00\x00\x00" + ONE * 3, 1, "not subscribed"),
        (b"\x02\x01\xe8\x03", 2, "u32 timestamp"),
        (b"\x02\x01\xe8\x03\x00\x00", 6, "whole number of 12"),
        (b"\x02\x01\xe8\x03\x00\x00" + ONE * 3 + b"\x00", 6, "whole number of 12"),
        (b"\x02\x01\xe8\x03\x00\x00" + ONE + b"\x00\x00\xc0\x7f" + ONE, 10, "NaN"),
    ],
)
def test_malformed(payload, offset, match):
    with pytest.raises(DecodeError, match=match) as err:
        movesense.decode(payload, **KW, state=state_50hz())
    assert err.value.device == "movesense" and err.value.offset == offset


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_any_bytes(payload):
    with contextlib.suppress(DecodeError):
        movesense.decode(payload, **KW, state=movesense.MovesenseState())


@FUZZ
@given(st.sampled_from([1, 2, 3]), st.binary(max_size=160))
def test_fuzz_data_frames(ref, body):
    try:
        frames = movesense.decode(bytes([0x02, ref]) + body, **KW, state=movesense.MovesenseState())
    except DecodeError:
        return
    assert len(frames) == 1
