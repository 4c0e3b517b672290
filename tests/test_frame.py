"""Frame validation: every bad field is refused on construction with the field named."""

from __future__ import annotations

import numpy as np
import pytest

from devices.errors import FrameError
from devices.frame import STREAM_SPECS, Frame, StreamKind, make_frame

T0 = 1_794_000_000_000_000_000  # 2026-11-11


def _frame(**kw: object) -> Frame:
    args: dict[str, object] = {
        "subject": "P001",
        "device": "AA:BB:CC:DD:EE:FF",
        "stream": "accel",
        "t_ns": T0 + np.arange(4) * 20_000_000,
        "values": np.zeros((4, 3)),
        "fs_hz": 50.0,
        "seq": 7,
    }
    args.update(kw)
    return make_frame(**args)  # type: ignore[arg-type]


def test_valid_frame_is_frozen_and_typed() -> None:
    f = _frame()
    assert f.n == 4 and f.start_ns == T0 and f.end_ns == T0 + 60_000_000
    assert f.stream is StreamKind.ACCEL and f.units == ("g", "g", "g")
    assert f.t_ns.dtype == np.int64 and f.values.dtype == np.float64
    with pytest.raises(ValueError):
        f.values[0, 0] = 1.0  # read-only
    with pytest.raises(AttributeError):
        f.seq = 8  # type: ignore[misc]
    assert f.key() == ("P001", "AA:BB:CC:DD:EE:FF", "accel", 7, T0)


def test_one_dimensional_values_become_one_column() -> None:
    f = _frame(stream="heart_rate", values=np.array([60, 61, 62, 63]), fs_hz=None)
    assert f.values.shape == (4, 1) and f.units == ("bpm",)


@pytest.mark.parametrize(
    ("kw", "field", "match"),
    [
        ({"subject": ""}, "subject", "1-64 characters"),
        ({"subject": "P 001"}, "subject", "1-64 characters"),
        ({"device": "x" * 65}, "device", "1-64 characters"),
        ({"stream": "temperature"}, "stream", "unknown stream kind"),
        ({"t_ns": np.array([], dtype=np.int64), "values": np.zeros((0, 3))}, "t_ns", "non-empty"),
        ({"t_ns": np.array([T0, T0 + 2, T0 + 1, T0 + 3])}, "t_ns[2]", "non-decreasing"),
        ({"t_ns": np.arange(4) * 10}, "t_ns", "2000-2100"),
        ({"t_ns": (T0 + np.arange(4)).astype(float)}, "t_ns", "integer nanoseconds"),
        ({"values": np.zeros((3, 3))}, "values", r"shape \(4, k\)"),
        ({"values": np.zeros((4, 2))}, "values", "needs 3 columns"),
        ({"values": np.array([[0, 0, np.nan]] * 4)}, "values", "NaN"),
        ({"values": np.array([[0, 0, np.inf]] * 4)}, "values", "NaN or infinite"),
        ({"fs_hz": 0.0}, "fs_hz", "must be in"),
        ({"fs_hz": 1e6}, "fs_hz", "must be in"),
        ({"fs_hz": float("nan")}, "fs_hz", "must be in"),
        ({"seq": -1}, "seq", "non-negative"),
        ({"seq": True}, "seq", "non-negative"),
    ],
)
def test_invalid_fields_are_named(kw: dict[str, object], field: str, match: str) -> None:
    with pytest.raises(FrameError, match=match) as info:
        _frame(**kw)
    assert info.value.where == field
    assert isinstance(info.value, ValueError)


def test_wrong_units_refused() -> None:
    with pytest.raises(FrameError, match="needs units"):
        Frame(
            "P001", "d1", StreamKind.GYRO, T0 + np.arange(2), np.zeros((2, 3)), ("g",) * 3, 50.0, 0
        )


def test_every_stream_kind_has_a_spec() -> None:
    for kind in StreamKind:
        k, units = STREAM_SPECS[kind]
        assert k == len(units) >= 1
