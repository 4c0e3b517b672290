"""Polar PMD accelerometer decoder and control-point commands.

Vectors are written by hand from Polar's polar-ble-sdk technical documentation (PMD
specification): data frame = measurement type, u64 timestamp (ns since 2000-01-01, last
sample), frame type, samples; delta frames = reference sample + [bit width, count, packed
LSB-first two's-complement deltas] blocks.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import polar_pmd
from devices.errors import DecodeError

HOST = 1_795_000_000_000_000_000
KW: dict[str, Any] = {"subject": "P001", "device": "A0:9E:1A:00:00:01", "host_t_ns": HOST, "seq": 3}
TS_1S = bytes([0x00, 0xCA, 0x9A, 0x3B, 0x00, 0x00, 0x00, 0x00])  # u64 1_000_000_000 ns
STATE_50HZ = polar_pmd.PmdState(fs_hz=50.0, resolution_bits=16)  # 20 ms between samples
FUZZ = settings(max_examples=300, derandomize=True, deadline=None)


def decode(payload: bytes, state: polar_pmd.PmdState = STATE_50HZ):
    return polar_pmd.decode(payload, **KW, state=state)


def test_start_and_stop_commands():
    # 02 start, 02 ACC, [00 sample rate, 1 value, 34 00 = 52 Hz], [01 resolution, 1, 10 00 = 16],
    # [02 range, 1, 08 00 = 8 G]
    assert polar_pmd.start_command(52, 16, 8) == bytes.fromhex("0202 0001 3400 0101 1000 0201 0800")
    assert polar_pmd.stop_command() == bytes([0x03, 0x02])


def test_raw_int16_frame():
    # 02 ACC | ts 1 s | 01 int16 | (E8 03, 18 FC, 00 00) = (1000, -1000, 0) mG
    #                              (00 00, 00 00, E8 03) = (0, 0, 1000) mG
    payload = bytes([0x02, *TS_1S, 0x01, 0xE8, 0x03, 0x18, 0xFC, 0, 0, 0, 0, 0, 0, 0xE8, 0x03])
    (f,) = decode(payload)
    assert f.values.tolist() == [[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]
    assert f.device_t_ns is not None
    assert f.device_t_ns.tolist() == [980_000_000, 1_000_000_000]  # last sample at ts
    assert f.t_ns.tolist() == [HOST - 20_000_000, HOST]  # default: last sample at host time
    assert f.fs_hz == 50.0 and f.seq == 3 and f.meta["frame_type"] == 1


def test_raw_int8_frame():
    # 00 int8 | 01 FF 80 = (1, -1, -128) mG
    (f,) = decode(bytes([0x02, *TS_1S, 0x00, 0x01, 0xFF, 0x80]))
    assert f.values.tolist() == [[0.001, -0.001, -0.128]]


def test_raw_int24_frame():
    # 02 int24 | E8 03 00 = 1000, 18 FC FF = -1000, 00 00 00 = 0
    (f,) = decode(bytes([0x02, *TS_1S, 0x02, 0xE8, 0x03, 0x00, 0x18, 0xFC, 0xFF, 0, 0, 0]))
    assert f.values.tolist() == [[1.0, -1.0, 0.0]]


def test_delta_compressed_frame():
    # 80 delta | reference 64 00, 9C FF, E8 03 = (100, -100, 1000) mG
    # block: width 04 bits, count 02 samples; deltas (+1, -1, +2), (-3, 0, +7) as 4-bit
    # two's complement, LSB first: F1 = [+1 | -1<<4], D2 = [+2 | -3<<4], 70 = [0 | +7<<4]
    payload = bytes(
        [0x02, *TS_1S, 0x80, 0x64, 0x00, 0x9C, 0xFF, 0xE8, 0x03, 0x04, 0x02, 0xF1, 0xD2, 0x70]
    )
    (f,) = decode(payload)
    assert (f.values * 1000).round().tolist() == [
        [100, -100, 1000],
        [101, -101, 1002],
        [98, -101, 1009],
    ]
    assert f.device_t_ns is not None
    assert f.device_t_ns.tolist() == [960_000_000, 980_000_000, 1_000_000_000]


def test_align_hook_receives_device_times():
    seen = []

    def align(d, host):
        seen.append((d.tolist(), host))
        return d + 1_794_000_000_000_000_000

    (f,) = polar_pmd.decode(
        bytes([0x02, *TS_1S, 0x00, 1, 2, 3]), **KW, state=STATE_50HZ, align=align
    )
    assert seen == [([1_000_000_000], HOST)]
    assert f.t_ns.tolist() == [1_794_000_001_000_000_000]


@pytest.mark.parametrize(
    ("payload", "offset", "match"),
    [
        (b"", 0, "header"),
        (bytes([0x02, *TS_1S]), 0, "header"),
        (bytes([0x00, *TS_1S, 0x01, 0, 0]), 0, "not ACC"),  # ECG
        (bytes([0x02, *[0xFF] * 8, 0x01, 0, 0, 0, 0, 0, 0]), 1, "int64"),
        (bytes([0x02, *TS_1S, 0x03, 0, 0, 0]), 9, "frame type"),
        (bytes([0x02, *TS_1S, 0x01, 0, 0, 0, 0, 0]), 10, "6-byte samples"),
        (bytes([0x02, *TS_1S, 0x01]), 10, "6-byte samples"),
        (bytes([0x02, *TS_1S, 0x80, 0, 0, 0, 0]), 10, "reference sample"),
        (bytes([0x02, *TS_1S, 0x80, 0, 0, 0, 0, 0, 0, 0x04]), 16, "delta block header"),
        (bytes([0x02, *TS_1S, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x01]), 16, "bit width 0"),
        (bytes([0x02, *TS_1S, 0x80, 0, 0, 0, 0, 0, 0, 0x08, 0x02, 1, 2]), 18, "2 deltas of 8 bits"),
    ],
)
def test_malformed(payload, offset, match):
    with pytest.raises(DecodeError, match=match) as err:
        decode(payload)
    assert err.value.device == "polar_pmd" and err.value.offset == offset


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_any_bytes(payload):
    with contextlib.suppress(DecodeError):
        decode(payload)


@FUZZ
@given(
    st.binary(min_size=8, max_size=8),
    st.sampled_from([0x00, 0x01, 0x02, 0x80, 0x81, 0x7F]),
    st.binary(max_size=120),
    st.sampled_from([8, 12, 16, 24]),
)
def test_fuzz_valid_headers(ts, ftype, body, resolution):
    state = polar_pmd.PmdState(fs_hz=52.0, resolution_bits=resolution)
    try:
        frames = decode(bytes([0x02, *ts, ftype, *body]), state)
    except DecodeError:
        return
    assert len(frames) == 1 and frames[0].n >= 1
