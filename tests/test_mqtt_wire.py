"""The MQTT wire codec against golden vectors written by hand from docs/mqtt.md."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import DecodeError
from devices.frame import StreamKind
from devices.mqtt_wire import (
    TopicParts,
    decode_payload,
    encode_imu_frame,
    encode_json_samples,
    encode_session_event,
    encode_status,
    parse_topic,
    sample_times_ns,
)

T0 = 1_794_304_800_000_000_000
# docs/mqtt.md, worked example 1 (int16 accelerometer), typed in from the document.
GOLDEN_ACCEL = bytes.fromhex(
    "41 50 01 01 01 03 02 00  07 00 00 00 00 40 c7 7e"
    " b5 a6 e6 18 00 00 48 42  00 00 80 39 00 00 00 00"
    " 00 10 00 f0 00 08 00 10".replace("  ", " ")
)
# docs/mqtt.md, worked example 2 (float32 gyroscope).
GOLDEN_GYRO = bytes.fromhex(
    "41 50 01 02 02 03 01 00  04 03 02 01 00 40 c7 7e"
    " b5 a6 e6 18 00 00 c8 42  00 00 80 3f 00 00 c0 3f"
    " 00 00 00 c0 00 00 80 3e".replace("  ", " ")
)


def parts(stream: str) -> TopicParts:
    return TopicParts("adh", "site1", "P001", "dev1", stream)


class TestGoldenBinary:
    def test_int16_accel_example(self) -> None:
        d = decode_payload(parts("accel"), GOLDEN_ACCEL, host_t_ns=5)
        assert d.events == ()
        (f,) = d.frames
        assert f.stream is StreamKind.ACCEL
        assert (f.subject, f.device, f.seq, f.fs_hz) == ("P001", "dev1", 7, 50.0)
        assert f.t_ns.tolist() == [T0, T0 + 20_000_000]
        assert f.values.tolist() == [[0.0, 0.0, 1.0], [-1.0, 0.5, 1.0]]
        assert f.device_t_ns is not None and f.device_t_ns.tolist() == f.t_ns.tolist()
        assert f.meta == {"rx_ns": 5, "site": "site1"}

    def test_float32_gyro_example(self) -> None:
        (f,) = decode_payload(parts("gyro"), GOLDEN_GYRO, host_t_ns=0).frames
        assert f.stream is StreamKind.GYRO
        assert f.seq == 0x01020304
        assert f.fs_hz == 100.0
        assert f.t_ns.tolist() == [T0]
        assert f.values.tolist() == [[1.5, -2.0, 0.25]]

    def test_encoder_reproduces_the_documented_bytes(self) -> None:
        a = encode_imu_frame(
            "accel", 7, T0, 50.0, [[0.0, 0.0, 1.0], [-1.0, 0.5, 1.0]], scale=2.0**-12
        )
        g = encode_imu_frame("gyro", 0x01020304, T0, 100.0, [[1.5, -2.0, 0.25]])
        assert a == GOLDEN_ACCEL
        assert g == GOLDEN_GYRO

    def test_int16_values_are_clipped_to_range(self) -> None:
        b = encode_imu_frame("accel", 0, T0, 50.0, [[100.0, -100.0, 0.0]], scale=2.0**-12)
        assert b[28:] == bytes.fromhex("ff 7f 00 80 00 00")

    def test_sample_times_from_rate(self) -> None:
        # 3 samples at 3 Hz: 0, 333333333.33 -> 333333333, 666666666.67 -> 666666667
        assert sample_times_ns(T0, 3.0, 3).tolist() == [T0, T0 + 333_333_333, T0 + 666_666_667]


def _with(payload: bytes, offset: int, fmt: str, value: object) -> bytes:
    b = bytearray(payload)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


NAN32 = struct.pack("<f", float("nan"))


@pytest.mark.parametrize(
    ("stream", "payload", "offset", "match"),
    [
        ("accel", b"", 0, "truncated header: 0 of 28"),
        ("accel", GOLDEN_ACCEL[:27], 27, "truncated header: 27 of 28"),
        ("accel", GOLDEN_ACCEL[:-1], 39, "truncated samples: 39 of 40"),
        ("accel", GOLDEN_ACCEL + b"\x00", 40, "1 trailing bytes"),
        ("accel", b"XP" + GOLDEN_ACCEL[2:], 0, "bad magic"),
        ("accel", _with(GOLDEN_ACCEL, 2, "<B", 2), 2, "unsupported frame version 2"),
        ("accel", _with(GOLDEN_ACCEL, 3, "<B", 9), 3, "unknown stream code 9"),
        ("gyro", GOLDEN_ACCEL, 3, "frame holds accel but the topic says gyro"),
        ("accel", _with(GOLDEN_ACCEL, 4, "<B", 3), 4, "unknown sample type 3"),
        ("accel", _with(GOLDEN_ACCEL, 5, "<B", 2), 5, "needs 3 channels, got 2"),
        ("accel", _with(GOLDEN_ACCEL, 6, "<H", 0), 6, "sample count is 0"),
        ("accel", _with(GOLDEN_ACCEL, 20, "<f", 0.0), 20, "sample rate must be positive"),
        ("accel", _with(GOLDEN_ACCEL, 24, "<f", -1.0), 24, "scale must be positive"),
        ("gyro", _with(GOLDEN_GYRO, 24, "<f", 2.0), 24, "scale must be 1.0 for float32"),
        ("gyro", GOLDEN_GYRO[:28] + NAN32 + GOLDEN_GYRO[32:], 28, "NaN"),
        ("accel", _with(GOLDEN_ACCEL, 12, "<Q", 0), 28, "2000-2100"),
    ],
)
def test_binary_errors_name_offset_and_reason(
    stream: str, payload: bytes, offset: int, match: str
) -> None:
    with pytest.raises(DecodeError, match=match) as info:
        decode_payload(parts(stream), payload, 0)
    assert info.value.device == "dev1"
    assert info.value.offset == offset


class TestJson:
    def test_step_total_batch(self) -> None:
        body = b'{"v":1,"seq":12,"samples":[[1794304800000000000,1520],[1794304860000000000,1597]]}'
        (f,) = decode_payload(parts("step_total"), body, 0).frames
        assert f.stream is StreamKind.STEP_TOTAL and f.seq == 12 and f.fs_hz is None
        assert f.t_ns.tolist() == [T0, T0 + 60_000_000_000]
        assert f.values[:, 0].tolist() == [1520.0, 1597.0]

    def test_symptom_and_heart_rate(self) -> None:
        (f,) = decode_payload(
            parts("symptom"), b'{"v":1,"seq":0,"samples":[[1794304800000000000,7]]}', 0
        ).frames
        assert f.stream is StreamKind.SYMPTOM and f.values.tolist() == [[7.0]]
        (h,) = decode_payload(parts("heart_rate"), encode_json_samples(3, [(T0, 61.5)]), 0).frames
        assert h.stream is StreamKind.HEART_RATE and h.values.tolist() == [[61.5]] and h.seq == 3

    def test_session_event(self) -> None:
        body = (
            b'{"v":1,"seq":3,"events":[{"event":"start","t_ns":1794304800000000000,'
            b'"session_id":"s-20261110-1","exercise":"bridge"}]}'
        )
        d = decode_payload(parts("session"), body, 0)
        assert d.frames == ()
        (e,) = d.events
        assert (e.kind, e.t_ns, e.seq, e.session_id, e.exercise) == (
            "session_start",
            T0,
            3,
            "s-20261110-1",
            "bridge",
        )
        assert (e.site, e.subject, e.device) == ("site1", "P001", "dev1")
        assert e.detail == {}
        assert encode_session_event(3, "start", T0, "s-20261110-1", "bridge") == body

    def test_session_event_with_plan_entry(self) -> None:
        body = (
            b'{"v":1,"seq":4,"events":[{"event":"stop","t_ns":1794304800000000000,'
            b'"session_id":"s1","exercise":"bridge","plan_entry":"morning"}]}'
        )
        (e,) = decode_payload(parts("session"), body, 0).events
        assert (e.kind, e.detail) == ("session_stop", {"plan_entry": "morning"})
        assert encode_session_event(4, "stop", T0, "s1", "bridge", "morning") == body

    def test_feedback_is_recognised_and_carries_nothing_to_store(self) -> None:
        d = decode_payload(parts("feedback"), b'{"v":1,"event":"rep"}', 0)
        assert d.frames == () and d.events == ()

    def test_status(self) -> None:
        body = b'{"v":1,"state":"offline","t_ns":1794304800000000000}'
        (e,) = decode_payload(parts("status"), body, 0).events
        assert (e.kind, e.t_ns, e.seq, e.detail) == ("status", T0, 1, {"state": "offline"})
        (on,) = decode_payload(parts("status"), encode_status("online", T0), 0).events
        assert (on.t_ns, on.seq, on.detail) == (T0, 0, {"state": "online"})
        assert encode_status("offline", T0) == body

    @pytest.mark.parametrize(
        ("stream", "body", "offset", "match"),
        [
            ("step_total", b"", 0, "invalid JSON"),
            ("step_total", b'{"v":1,"seq":1,', 15, "invalid JSON"),
            ("step_total", b"\xff\xfe", 0, "not UTF-8"),
            ("step_total", b"[1,2]", 0, "must be an object"),
            (
                "step_total",
                b'{"seq":1,"samples":[[1794304800000000000,1]]}',
                -1,
                "'v' must be 1, got None",
            ),
            (
                "step_total",
                b'{"v":2,"seq":1,"samples":[[1794304800000000000,1]]}',
                -1,
                "'v' must be 1, got 2",
            ),
            (
                "step_total",
                b'{"v":1,"samples":[[1794304800000000000,1]]}',
                -1,
                "'seq' must be an integer",
            ),
            (
                "step_total",
                b'{"v":1,"seq":-1,"samples":[[1794304800000000000,1]]}',
                -1,
                "'seq' must be",
            ),
            ("step_total", b'{"v":1,"seq":1,"samples":[]}', -1, "non-empty list"),
            (
                "step_total",
                b'{"v":1,"seq":1,"samples":[[1794304800000000000]]}',
                -1,
                r"samples\[0\]",
            ),
            ("step_total", b'{"v":1,"seq":1,"samples":[[1.5e18,1]]}', -1, r"samples\[0\]"),
            (
                "step_total",
                b'{"v":1,"seq":1,"samples":[[1794304800000000000,true]]}',
                -1,
                r"samples\[0\]",
            ),
            ("step_total", b'{"v":1,"seq":1,"samples":[[5,1]]}', -1, "2000-2100"),
            (
                "step_total",
                b'{"v":1,"seq":1,"samples":[[1' + b"0" * 30 + b",1]]}",
                -1,
                r"samples\[0\]",
            ),
            (
                "step_total",
                b'{"v":1,"seq":1,"samples":[[1794304800000000000,1e999]]}',
                -1,
                r"samples\[0\]",
            ),
            ("step_total", b"[" * 100_000 + b"]" * 100_000, -1, "nested too deeply"),
            (
                "step_total",
                b'{"v":1,"seq":1,"samples":[[1794304800000000001,1],[1794304800000000000,2]]}',
                -1,
                "non-decreasing",
            ),
            (
                "symptom",
                b'{"v":1,"seq":1,"samples":[[1794304800000000000,11]]}',
                -1,
                "0-10, got 11",
            ),
            (
                "symptom",
                b'{"v":1,"seq":1,"samples":[[1794304800000000000,-1]]}',
                -1,
                "0-10, got -1",
            ),
            (
                "session",
                b'{"v":1,"seq":1,"events":[{"event":"pause","t_ns":1794304800000000000,"session_id":"a","exercise":"b"}]}',
                -1,
                "start or stop",
            ),
            (
                "session",
                b'{"v":1,"seq":1,"events":[{"event":"stop","t_ns":1794304800000000000,"session_id":"a b","exercise":"b"}]}',
                -1,
                "session_id must be an id",
            ),
            ("session", b'{"v":1,"seq":1,"events":[]}', -1, "non-empty list"),
            (
                "session",
                b'{"v":1,"seq":1,"events":[{"event":"stop","t_ns":1794304800000000000,"session_id":"a","exercise":"b","plan_entry":7}]}',
                -1,
                "plan_entry must be an id",
            ),
            (
                "status",
                b'{"v":1,"state":"asleep","t_ns":1794304800000000000}',
                -1,
                "online or offline",
            ),
            ("status", b'{"v":1,"state":"online"}', -1, "'t_ns' must be UTC ns"),
        ],
    )
    def test_json_errors(self, stream: str, body: bytes, offset: int, match: str) -> None:
        with pytest.raises(DecodeError, match=match) as info:
            decode_payload(parts(stream), body, 0)
        assert info.value.offset == offset and info.value.device == "dev1"

    def test_too_many_samples(self) -> None:
        body = encode_json_samples(0, [(T0 + i, 1.0) for i in range(10_001)])
        with pytest.raises(DecodeError, match="10001 samples exceeds 10000"):
            decode_payload(parts("heart_rate"), body, 0)


class TestTopics:
    def test_parse(self) -> None:
        assert parse_topic("adh", "adh/site1/P001/dev1/accel") == parts("accel")
        assert parse_topic("a/b/", "a/b/s/P/d/status") == TopicParts("a/b", "s", "P", "d", "status")

    @pytest.mark.parametrize(
        ("topic", "match"),
        [
            ("other/site1/P001/dev1/accel", "not under prefix"),
            ("adh/site1/P001/accel", "needs 4 levels after the prefix, got 3"),
            ("adh/site1/P001/dev1/accel/x", "got 5"),
            ("adh/site1/P001/dev1/temperature", "unknown stream 'temperature'"),
            ("adh/site1/P 001/dev1/accel", "subject 'P 001' is not a valid id"),
            ("adh/site1/P001//accel", "device '' is not a valid id"),
        ],
    )
    def test_bad_topics(self, topic: str, match: str) -> None:
        with pytest.raises(DecodeError, match=match):
            parse_topic("adh", topic)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 300),
    seq=st.integers(0, 2**32 - 1),
    fs=st.sampled_from([12.5, 25.0, 50.0, 52.0, 100.0, 215.0, 1000.0]),
    seed=st.integers(0, 2**31),
)
def test_round_trip_float32_and_int16(n: int, seq: int, fs: float, seed: int) -> None:
    values = np.random.default_rng(seed).uniform(-4, 4, (n, 3))
    f32 = decode_payload(parts("accel"), encode_imu_frame("accel", seq, T0, fs, values), 0).frames[
        0
    ]
    assert f32.seq == seq and f32.n == n
    np.testing.assert_array_equal(f32.values, values.astype(np.float32).astype(np.float64))
    assert f32.t_ns[-1] == T0 + round((n - 1) * 1e9 / float(np.float32(fs)))
    scale = 2.0**-12
    i16 = decode_payload(
        parts("accel"), encode_imu_frame("accel", seq, T0, fs, values, scale=scale), 0
    ).frames[0]
    assert np.max(np.abs(i16.values - values)) <= scale / 2 + 1e-12
