"""Profile registry: choosing a device profile from advertised services, and the decoder
contract (every registered decoder turns arbitrary bytes into frames or a DecodeError)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import registry
from devices.errors import DecodeError
from devices.frame import Frame

HOST = 1_795_000_000_000_000_000
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.mark.parametrize(
    ("advertised", "expected"),
    [
        (["0000180d-0000-1000-8000-00805f9b34fb"], ["heart_rate"]),
        (["180D"], ["heart_rate"]),  # 16-bit short form
        (["1814", "180f"], ["running_speed_cadence"]),  # battery alone never chosen
        (["1816"], ["cycling_speed_cadence"]),
        (["FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8", "180d"], ["polar_pmd", "heart_rate"]),
        (["34802252-7185-4d5d-b431-630e7050e8f0"], ["movesense"]),
        (["0000ffe5-0000-1000-8000-00805f9a34fb"], ["witmotion_bwt901ble"]),
        (["0000feed-0000-1000-8000-00805f9b34fb"], []),
        ([], []),
    ],
)
def test_profiles_for_services(advertised, expected):
    assert [p.name for p in registry.profiles_for_services(advertised)] == expected


def test_battery_is_optional_but_found_in_gatt():
    names = [p.name for p in registry.profiles_for_services(["180f"], include_optional=True)]
    assert names == ["battery"]


def test_profiles_are_well_formed():
    for p in registry.profiles():
        assert UUID_RE.match(p.service_uuid), p.name
        assert p.spec
        for c in p.characteristics:
            assert UUID_RE.match(c.uuid), c.uuid
            assert p.characteristic(c.uuid.upper()) is c
        for uuid, data in (*p.start, *p.stop):
            assert UUID_RE.match(uuid) and data


def test_describe_unknown_lists_what_it_advertises_and_what_we_know():
    msg = registry.describe_unknown(
        "Gizmo", "AA:BB:CC:DD:EE:FF", ["0000feed-0000-1000-8000-00805f9b34fb"]
    )
    assert msg.startswith("Gizmo [AA:BB:CC:DD:EE:FF] advertises 0000feed-")
    assert "heart_rate (0000180d-" in msg and "battery" not in msg
    assert "no service UUIDs" in registry.describe_unknown(None, "AA:BB:CC:DD:EE:FF", [])


def test_sig_uuid():
    assert registry.sig_uuid(0x2A37) == "00002a37-0000-1000-8000-00805f9b34fb"


ALL_CHARS = [(p.name, c) for p in registry.profiles() for c in p.characteristics]


@pytest.mark.parametrize(
    ("profile", "char"), ALL_CHARS, ids=[f"{p}:{c.name}" for p, c in ALL_CHARS]
)
@settings(max_examples=200, derandomize=True, deadline=None)
@given(payloads=st.lists(st.binary(max_size=120), min_size=1, max_size=4))
def test_every_decoder_gives_frames_or_decode_error(profile, char, payloads):
    state = char.make_state()
    for i, payload in enumerate(payloads):
        try:
            frames = char.decode(
                payload, subject="P001", device="dev-1", host_t_ns=HOST + i, seq=i, state=state
            )
        except DecodeError as exc:
            assert exc.device and isinstance(exc.offset, int) and exc.reason
            continue
        assert isinstance(frames, list) and all(isinstance(f, Frame) for f in frames)
        assert all(f.seq == i and f.subject == "P001" for f in frames)
