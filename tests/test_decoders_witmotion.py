"""WitMotion BWT901BLE decoder.

Vectors by hand from the WitMotion WT901BLE protocol: 20-byte packet 55 61 + 9 int16 LE
(acceleration x16/32768 g, angular velocity x2000/32768 deg/s, angle x180/32768 deg).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import witmotion
from devices.errors import DecodeError

HOST = 1_795_000_000_000_000_000
KW: dict[str, Any] = {"subject": "P001", "device": "D4:3C:00:00:00:01", "host_t_ns": HOST, "seq": 5}
FUZZ = settings(max_examples=300, derandomize=True, deadline=None)

# 55 61 | ax 00 08 = 2048 -> 1.0 g | ay 00 F8 = -2048 -> -1.0 g | az 00 00
#       | wx 00 40 = 16384 -> 1000 deg/s | wy 00 C0 = -16384 -> -1000 | wz 00 00
#       | roll 00 40 -> 90 deg | pitch 00 E0 = -8192 -> -45 deg | yaw FF 7F = 32767 -> 179.99451 deg
PACKET = bytes.fromhex("5561 0008 00f8 0000 0040 00c0 0000 0040 00e0 ff7f")
REGISTER_REPLY = bytes.fromhex("5571") + bytes(18)


def test_one_packet():
    frames = {f.stream.value: f for f in witmotion.decode(PACKET, **KW)}
    assert frames["accel"].values.tolist() == [[1.0, -1.0, 0.0]]
    assert frames["gyro"].values.tolist() == [[1000.0, -1000.0, 0.0]]
    roll, pitch, yaw = frames["orientation"].values[0]
    assert (roll, pitch) == (90.0, -45.0)
    assert yaw == pytest.approx(32767 * 180 / 32768)
    assert frames["accel"].t_ns.tolist() == [HOST] and frames["accel"].device_t_ns is None


def test_two_packets_spaced_at_output_rate():
    frames = witmotion.decode(PACKET + PACKET, **KW, state=witmotion.WitMotionState(fs_hz=10.0))
    assert frames[0].t_ns.tolist() == [HOST - 100_000_000, HOST]


def test_register_reply_skipped():
    assert witmotion.decode(REGISTER_REPLY, **KW) == []
    assert len(witmotion.decode(REGISTER_REPLY + PACKET, **KW)[0].t_ns) == 1


@pytest.mark.parametrize(
    ("payload", "offset", "match"),
    [
        (b"", 0, "20-byte packet"),
        (PACKET[:19], 0, "20-byte packet"),
        (PACKET + b"\x55", 20, "whole number"),
        (b"\x54" + PACKET[1:], 0, "header"),
        (PACKET + b"\x55\x62" + bytes(18), 21, "flag"),
    ],
)
def test_malformed(payload, offset, match):
    with pytest.raises(DecodeError, match=match) as err:
        witmotion.decode(payload, **KW)
    assert err.value.device == "witmotion" and err.value.offset == offset


@FUZZ
@given(st.binary(max_size=100))
def test_fuzz_any_bytes(payload):
    with contextlib.suppress(DecodeError):
        witmotion.decode(payload, **KW)


@FUZZ
@given(st.lists(st.binary(min_size=18, max_size=18), min_size=1, max_size=4))
def test_fuzz_valid_headers(bodies):
    frames = witmotion.decode(b"".join(b"\x55\x61" + b for b in bodies), **KW)
    assert len(frames) == 3 and frames[0].n == len(bodies)
