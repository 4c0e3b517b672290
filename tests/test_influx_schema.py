"""Line protocol: escaping, integer suffixes, NaN left out, period timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from adherence.influx_schema import adherence_daily_line, line, session_line
from devices.errors import InputError
from ingest.store import RepRecord, SessionRecord, SetRecord


@pytest.mark.parametrize(
    ("tags", "fields", "expected"),
    [
        ({}, {"v": 1}, "m v=1i 5"),
        ({}, {"v": 1.5, "ok": True}, "m v=1.5,ok=true 5"),
        (
            {},
            {"v": np.int64(3), "w": np.float32(0.5), "b": np.bool_(False)},
            "m v=3i,w=0.5,b=false 5",
        ),
        ({}, {"v": float("nan"), "w": 2}, "m w=2i 5"),
        ({}, {"v": float("inf"), "w": None, "x": 0.0}, "m x=0.0 5"),
        ({"b": "x y", "a": "p,q=r"}, {"v": 1}, r"m,a=p\,q\=r,b=x\ y v=1i 5"),
        ({}, {"s": 'say "hi" \\ bye'}, r'm s="say \"hi\" \\ bye" 5'),
        ({}, {"field key": 1}, r"m field\ key=1i 5"),
    ],
)
def test_line(tags: dict[str, str], fields: dict[str, object], expected: str) -> None:
    assert line("m", tags, fields, 5) == expected  # type: ignore[arg-type]


def test_no_field_left_gives_no_line() -> None:
    assert line("m", {"a": "b"}, {"v": float("nan"), "w": None}, 5) is None


@pytest.mark.parametrize("tags", [{"a": ""}, {"a": "x\ny"}])
def test_bad_tags_raise(tags: dict[str, str]) -> None:
    with pytest.raises(InputError):
        line("m", tags, {"v": 1}, 5)


def test_adherence_daily_line_has_fixed_types() -> None:
    detail = {
        "composite": 50,  # an int composite is still sent as a float
        "exercise_adherence_7d": None,
        "sessions_done_7d": 1.0,  # counts always integers
        "sessions_planned_7d": 3,
        "streak_days": 0,
        "flags": [{"code": "A", "reason": "x"}, {"code": "B", "reason": "y"}],
    }
    assert adherence_daily_line("P1", "prog", 10**18, detail) == (
        "adherence_daily,programme=prog,subject=P1 composite=50.0,sessions_done_7d=1i,"
        'sessions_planned_7d=3i,streak_days=0i,flag_count=2i,flags="A,B" 1000000000000000000'
    )


def test_session_line_tags_only_known_exercises() -> None:
    reps = (RepRecord(0, 1, 1.0, None),) * 4
    s = SessionRecord(
        "sess-1",
        "P1",
        "bridge",
        2 * 10**9,
        62 * 10**9,
        None,
        "t",
        "complete",
        (SetRecord(0, 0, 1, reps),),
        {},
    )
    assert session_line(s, "prog", 0.4) == (
        "exercise_session,exercise=bridge,programme=prog,subject=P1 reps=4i,sets=1i,duration_s=60.0,"
        'completion=0.4,session_id="sess-1" 2000000000'
    )
    odd = SessionRecord("sess-2", "P1", "Free Text!", 0, 0, "core-a", "t", "complete", (), {})
    assert session_line(odd, "prog").startswith("exercise_session,exercise=other,")
