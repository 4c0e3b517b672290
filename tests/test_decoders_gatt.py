"""Bluetooth SIG GATT decoders: Heart Rate 0x2A37, RSC 0x2A53, CSC 0x2A5B, Battery 0x2A19.

Golden vectors are written by hand from the SIG service specifications (HRS 1.0, RSCS 1.0,
CSCS 1.0, BAS 1.0 section 3.1 and the GATT Specification Supplement); each comment gives the
layout. Expected numbers are worked out by hand, never by an encoder of ours.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import gatt_battery, gatt_csc, gatt_heart_rate, gatt_rsc
from devices.errors import DecodeError
from devices.frame import Frame, StreamKind

HOST = 1_795_000_000_000_000_000  # 2026-11-18T...Z in UTC ns
KW: dict[str, Any] = {"subject": "P001", "device": "AA:BB:CC:DD:EE:FF", "host_t_ns": HOST, "seq": 7}
FUZZ = settings(max_examples=300, derandomize=True, deadline=None)


def by_stream(frames: list[Frame]) -> dict[str, Frame]:
    return {f.stream.value: f for f in frames}


class TestHeartRate:
    def test_u8_hr_no_contact_support(self):
        # flags 00: u8 HR, contact unsupported; HR 0x48 = 72 bpm
        frames = gatt_heart_rate.decode(bytes([0x00, 0x48]), **KW)
        assert len(frames) == 1
        f = frames[0]
        assert f.stream is StreamKind.HEART_RATE and f.values.tolist() == [[72.0]]
        assert f.t_ns.tolist() == [HOST] and f.seq == 7
        assert f.meta["sensor_contact"] is None

    def test_u16_hr(self):
        # flags 01: u16 HR; 2C 01 = 0x012C = 300 bpm
        (f,) = gatt_heart_rate.decode(bytes([0x01, 0x2C, 0x01]), **KW)
        assert f.values.tolist() == [[300.0]]

    def test_contact_and_rr_intervals(self):
        # flags 16 = 0b0001_0110: contact bits 11 (detected), RR present; HR 0x4B = 75 bpm
        # RR 00 04 = 1024/1024 = 1.0 s; CD 03 = 973/1024 = 0.9501953125 s
        frames = by_stream(
            gatt_heart_rate.decode(bytes([0x16, 0x4B, 0x00, 0x04, 0xCD, 0x03]), **KW)
        )
        assert frames["heart_rate"].values.tolist() == [[75.0]]
        assert frames["heart_rate"].meta["sensor_contact"] is True
        rr = frames["rr_interval"]
        assert rr.values[:, 0].tolist() == [1.0, 0.9501953125]
        # the last interval ends at the host time, the first one 0.9501953125 s earlier
        assert rr.t_ns[1] == HOST
        assert abs(int(rr.t_ns[0]) - (HOST - 950_195_312)) <= 1

    def test_energy_expended_and_contact_not_detected(self):
        # flags 0C: contact bits 10 (supported, not detected), EE present; HR 0x50 = 80
        # EE 10 27 = 0x2710 = 10000 kJ
        (f,) = gatt_heart_rate.decode(bytes([0x0C, 0x50, 0x10, 0x27]), **KW)
        assert f.values.tolist() == [[80.0]]
        assert f.meta["sensor_contact"] is False and f.meta["energy_kj"] == 10000

    @pytest.mark.parametrize(
        ("payload", "offset", "match"),
        [
            (b"", 0, "flags"),
            (b"\x01\x2c", 1, "u16 heart rate"),
            (b"\x08\x48\x10", 2, "energy expended"),
            (b"\x10\x48\x00", 2, "not whole u16s"),
            (b"\x10\x48", 2, "not whole u16s"),
            (b"\x00\x48\x00", 2, "trailing"),
        ],
    )
    def test_malformed(self, payload, offset, match):
        with pytest.raises(DecodeError, match=match) as err:
            gatt_heart_rate.decode(payload, **KW)
        assert err.value.device == "heart_rate" and err.value.offset == offset

    @FUZZ
    @given(st.binary(max_size=64))
    def test_fuzz(self, payload):
        try:
            frames = gatt_heart_rate.decode(payload, **KW)
        except DecodeError:
            return
        assert all(isinstance(f, Frame) for f in frames) and frames


class TestRunningSpeedCadence:
    def test_all_fields(self):
        # flags 07: stride + total distance present, running
        # speed 00 03 = 768/256 = 3.0 m/s; cadence B4 = 180/min
        # stride 8C 00 = 140 cm = 1.40 m; distance 10 27 00 00 = 10000 dm = 1000.0 m
        payload = bytes([0x07, 0x00, 0x03, 0xB4, 0x8C, 0x00, 0x10, 0x27, 0x00, 0x00])
        f = by_stream(gatt_rsc.decode(payload, **KW))
        assert f["speed"].values.tolist() == [[3.0]]
        assert f["cadence"].values.tolist() == [[180.0]]
        assert f["cadence"].meta["stride_m"] == 1.40 and f["cadence"].meta["running"] is True
        assert f["distance"].values.tolist() == [[1000.0]]

    def test_minimal_walking(self):
        # flags 00; speed 80 01 = 384/256 = 1.5 m/s; cadence 5A = 90/min
        f = by_stream(gatt_rsc.decode(bytes([0x00, 0x80, 0x01, 0x5A]), **KW))
        assert set(f) == {"speed", "cadence"}
        assert f["speed"].values.tolist() == [[1.5]] and f["cadence"].values.tolist() == [[90.0]]
        assert f["speed"].meta["running"] is False

    @pytest.mark.parametrize(
        ("payload", "offset"),
        [
            (b"", 0),
            (b"\x00\x80\x01", 0),
            (b"\x01\x80\x01\x5a\x8c", 4),
            (b"\x02\x80\x01\x5a\x10\x27", 4),
            (b"\x00\x80\x01\x5a\x00", 4),
        ],
    )
    def test_malformed(self, payload, offset):
        with pytest.raises(DecodeError) as err:
            gatt_rsc.decode(payload, **KW)
        assert err.value.device == "rsc" and err.value.offset == offset

    @FUZZ
    @given(st.binary(max_size=32))
    def test_fuzz(self, payload):
        with contextlib.suppress(DecodeError):
            assert gatt_rsc.decode(payload, **KW)


class TestCyclingSpeedCadence:
    def test_wheel_and_crank(self):
        # flags 03; wheel revs 0A 00 00 00 = 10, wheel event 00 04 = 1024/1024 = 1.0 s
        # crank revs 05 00 = 5, crank event 00 08 = 2048/1024 = 2.0 s
        payload = bytes([0x03, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x04, 0x05, 0x00, 0x00, 0x08])
        f = by_stream(gatt_csc.decode(payload, **KW, state=gatt_csc.CscState()))
        assert f["wheel"].values.tolist() == [[10.0, 1.0]]
        assert f["crank"].values.tolist() == [[5.0, 2.0]]

    def test_crank_rollover_unwrapped_by_state(self):
        state = gatt_csc.CscState()
        # flags 02; crank revs FF FF = 65535; event 00 FC = 64512/1024 = 63.0 s
        (a,) = gatt_csc.decode(bytes([0x02, 0xFF, 0xFF, 0x00, 0xFC]), **KW, state=state)
        # crank revs 01 00 = 1 after rollover -> 65537; event 00 04 = 1024 -> 65536 + 1024 = 65.0 s
        (b,) = gatt_csc.decode(bytes([0x02, 0x01, 0x00, 0x00, 0x04]), **KW, state=state)
        assert a.values.tolist() == [[65535.0, 63.0]]
        assert b.values.tolist() == [[65537.0, 65.0]]

    def test_failed_decode_leaves_state_untouched(self):
        state = gatt_csc.CscState()
        gatt_csc.decode(bytes([0x02, 0x10, 0x00, 0x00, 0x10]), **KW, state=state)
        with pytest.raises(DecodeError):
            # crank revs 05 00 < 16 would count as a rollover, but trailing byte: refused
            gatt_csc.decode(bytes([0x02, 0x05, 0x00, 0x00, 0x11, 0x00]), **KW, state=state)
        (c,) = gatt_csc.decode(bytes([0x02, 0x11, 0x00, 0x00, 0x12]), **KW, state=state)
        assert c.values[0, 0] == 17.0

    @pytest.mark.parametrize(
        ("payload", "offset"),
        [(b"", 0), (b"\x01\x0a\x00\x00", 1), (b"\x02\x05\x00", 1), (b"\x00\x00", 1)],
    )
    def test_malformed(self, payload, offset):
        with pytest.raises(DecodeError) as err:
            gatt_csc.decode(payload, **KW, state=gatt_csc.CscState())
        assert err.value.device == "csc" and err.value.offset == offset

    @FUZZ
    @given(st.lists(st.binary(max_size=16), max_size=5))
    def test_fuzz_with_state(self, payloads):
        state = gatt_csc.CscState()
        for p in payloads:
            with contextlib.suppress(DecodeError):
                gatt_csc.decode(p, **KW, state=state)


class TestBattery:
    def test_level(self):
        # one u8: 0x55 = 85 %
        (f,) = gatt_battery.decode(b"\x55", **KW)
        assert f.stream is StreamKind.BATTERY and f.values.tolist() == [[85.0]]

    @pytest.mark.parametrize(("payload", "offset"), [(b"", 0), (b"\x65", 0), (b"\x50\x00", 1)])
    def test_malformed(self, payload, offset):
        with pytest.raises(DecodeError) as err:
            gatt_battery.decode(payload, **KW)
        assert err.value.offset == offset

    @FUZZ
    @given(st.binary(max_size=4))
    def test_fuzz(self, payload):
        try:
            (f,) = gatt_battery.decode(payload, **KW)
            assert 0 <= f.values[0, 0] <= 100
        except DecodeError:
            pass


def test_all_frames_are_valid_arrays():
    f = gatt_heart_rate.decode(bytes([0x10, 0x48, 0x00, 0x04]), **KW)
    assert all(np.asarray(x.t_ns).dtype == np.int64 for x in f)
