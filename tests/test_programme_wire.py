"""Programme events on the wire: golden payloads typed from docs/mqtt.md, field-named errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from devices.errors import DecodeError
from devices.mqtt_wire import TopicParts
from devices.programme import (
    PROGRAMME_EVENTS,
    ProgrammeEvent,
    decode_programme_payload,
    decode_session_pain,
    encode_programme_events,
    encode_session_event_with_pain,
    from_device_event,
    programme_event,
)

PARTS = TopicParts("clinic", "site-1", "P001", "app-7", "programme")
T0 = 1_794_304_800_000_000_000  # 2026-11-10 10:00:00 UTC
SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[1] / "devices/schemas/mqtt-programme-1.schema.json"
    ).read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA)

# docs/mqtt.md, the programme example, typed in from the document.
GOLDEN = (
    b'{"v": 1, "seq": 12, "events": ['
    b'{"event_id": "e-1001", "event": "education_completed", "t_ns": 1794304800000000000,'
    b' "item_id": "edu-why-move", "minutes": 6.5},'
    b'{"event_id": "e-1002", "event": "mindfulness_completed", "t_ns": 1794308400000000000,'
    b' "module_id": "body-scan-10", "minutes": 10},'
    b'{"event_id": "e-1003", "event": "coaching_contact", "t_ns": 1794312000000000000,'
    b' "channel": "call", "by": "coach", "minutes": 15},'
    b'{"event_id": "e-1004", "event": "pain", "t_ns": 1794348000000000000, "nrs": 5},'
    b'{"event_id": "e-1005", "event": "peg", "t_ns": 1794348060000000000, "items": [6, 5, 4]},'
    b'{"event_id": "e-1006", "event": "community_post", "t_ns": 1794348120000000000}]}'
)


def test_golden_payload_decodes_to_typed_events() -> None:
    got = decode_programme_payload(PARTS, GOLDEN)
    assert [e.event for e in got] == [
        "education_completed",
        "mindfulness_completed",
        "coaching_contact",
        "pain",
        "peg",
        "community_post",
    ]
    edu, mind, coach, pain, peg, post = got
    assert (edu.event_id, edu.item_id, edu.minutes, edu.t_ns) == ("e-1001", "edu-why-move", 6.5, T0)
    assert (mind.module_id, mind.minutes) == ("body-scan-10", 10.0)
    assert (coach.channel, coach.by, coach.minutes) == ("call", "coach", 15.0)
    assert pain.nrs == 5.0 and pain.t_ns == T0 + 12 * 3600 * 10**9
    assert peg.peg_items == (6.0, 5.0, 4.0)
    assert post.item_id is None and post.minutes is None
    assert all((e.site, e.subject, e.device, e.seq) == ("site-1", "P001", "app-7", 12) for e in got)
    assert VALIDATOR.is_valid(json.loads(GOLDEN))


def test_encode_round_trip_and_device_event_conversion() -> None:
    events = list(decode_programme_payload(PARTS, GOLDEN))
    again = decode_programme_payload(PARTS, encode_programme_events(12, events))
    assert list(again) == events
    for e in events:
        de = e.to_device_event()
        assert de.kind == "programme_" + e.event and de.session_id == e.event_id
        assert from_device_event(de) == e
    assert VALIDATOR.is_valid(json.loads(encode_programme_events(12, events)))


def _one(**fields: Any) -> bytes:
    body = {"event_id": "e-1", "event": "pain", "t_ns": T0, "nrs": 3, **fields}
    return encode_programme_events(0, [{k: v for k, v in body.items() if v is not None}])


@pytest.mark.parametrize(
    ("payload", "field", "why"),
    [
        (_one(nrs=11), "events[0].nrs", "must be a finite number in 0-10, got 11"),
        (_one(nrs=-0.5), "events[0].nrs", "got -0.5"),
        (_one(nrs=True), "events[0].nrs", "got True"),
        (
            b'{"v":1,"seq":0,"events":[{"event_id":"e","event":"pain","t_ns":1794304800000000000,"nrs":NaN}]}',
            "events[0].nrs",
            "got nan",
        ),
        (_one(nrs=None), "events[0].nrs", "is required for pain"),
        (_one(t_ns=10**18 * 5), "events[0].t_ns", "must be UTC ns in 2000-2100"),
        (_one(t_ns=float(T0)), "events[0].t_ns", "must be UTC ns"),
        (_one(event_id="has space"), "events[0].event_id", "must be an id"),
        (_one(event="pain_score"), "events[0].event", "must be one of education_opened"),
        (_one(extra=1), "events[0].extra", "is not a field of pain"),
        (_one(event="peg", nrs=None, items=[1, 2]), "events[0].items", "must be a list of 3"),
        (_one(event="peg", nrs=None, items=[1, 2, 10.5]), "events[0].items[2]", "0-10"),
        (
            _one(event="coaching_contact", nrs=None, channel="video", by="coach"),
            "events[0].channel",
            "must be one of call, message, got 'video'",
        ),
        (
            _one(event="coaching_contact", nrs=None, channel="call", by="bot"),
            "events[0].by",
            "must be one of coach, patient",
        ),
        (
            _one(event="cbt_completed", nrs=None, module_id="m1", minutes=2000),
            "events[0].minutes",
            "0-1440",
        ),
        (
            _one(event="education_opened", nrs=None, item_id="a1", minutes=2**70),
            "events[0].minutes",
            "finite number",
        ),
        (b'{"v":1,"seq":-1,"events":[]}', "seq", "'seq' must be an integer"),
        (b'{"v":1,"seq":2,"events":[]}', "events", "non-empty list"),
        (b'{"v":2,"seq":2,"events":[]}', "v", "'v' must be 1"),
        (b'{"v":1,"seq":2,"events":[1]}', "events[0]", "must be an object"),
    ],
)
def test_bad_event_names_the_field(payload: bytes, field: str, why: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_programme_payload(PARTS, payload)
    assert info.value.context["field"] == field
    assert why in info.value.reason
    assert field in str(info.value) or field in ("seq", "events", "v")


def test_schema_refuses_what_the_decoder_refuses() -> None:
    for bad in (_one(nrs=11), _one(extra=1), _one(event_id="has space"), _one(nrs=None)):
        assert not VALIDATOR.is_valid(json.loads(bad))


@pytest.mark.parametrize(
    "payload", [b"\xff", b"[1]", b'{"v":1', b'{"v":1,"seq":0,"events":[{}],"x":1}']
)
def test_not_json_or_not_object_is_a_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_programme_payload(PARTS, payload)


def test_one_bad_event_fails_its_message_only_with_its_index() -> None:
    good = {"event_id": "e-1", "event": "community_post", "t_ns": T0}
    bad = {"event_id": "e-2", "event": "pain", "t_ns": T0, "nrs": 12}
    with pytest.raises(DecodeError, match=r"events\[1\]\.nrs"):
        decode_programme_payload(PARTS, encode_programme_events(0, [good, bad]))
    assert len(decode_programme_payload(PARTS, encode_programme_events(1, [good]))) == 1


def test_programme_event_builder_validates() -> None:
    e = programme_event("s", "P1", "app", "e-9", "pain", T0, nrs=4)
    assert isinstance(e, ProgrammeEvent) and e.nrs == 4.0
    with pytest.raises(DecodeError, match="nrs"):
        programme_event("s", "P1", "app", "e-9", "pain", T0, nrs=40)


def test_session_pain_fields() -> None:
    start = json.loads(encode_session_event_with_pain(0, "start", T0, "s-1", "bridge", pain=6))
    stop = json.loads(encode_session_event_with_pain(1, "stop", T0, "s-1", "bridge", pain=4.5))
    assert decode_session_pain("imu", 0, start["events"][0]) == {"pain_before": 6.0}
    assert decode_session_pain("imu", 0, stop["events"][0]) == {"pain_after": 4.5}
    assert decode_session_pain("imu", 0, {"event": "start"}) == {}
    with pytest.raises(DecodeError, match=r"events\[3\]\.pain_after belongs on a stop"):
        decode_session_pain("imu", 3, {"event": "start", "pain_after": 2})
    with pytest.raises(DecodeError, match=r"events\[0\]\.pain_before must be a finite number"):
        decode_session_pain("imu", 0, {"event": "start", "pain_before": "7"})


def test_docs_examples_are_the_golden_payload_and_run() -> None:
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs/mqtt.md").read_text()
    section = doc[doc.index("## Programme events") :]
    blocks = re.findall(r"```(json|python)\n(.*?)```", section, re.S)
    assert json.loads(blocks[0][1]) == json.loads(GOLDEN)
    exec(blocks[1][1], {})  # the Python example runs as written
    session = json.loads(blocks[2][1])["events"][0]
    assert decode_session_pain("imu", 0, session) == {"pain_before": 6.0}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)
_event = st.fixed_dictionaries(
    {
        "event_id": st.text(max_size=5) | st.just("e-1"),
        "event": st.sampled_from([*PROGRAMME_EVENTS, "x"]),
    },
    optional={
        "t_ns": st.integers() | st.just(T0),
        "nrs": _json | st.floats(0, 10),
        "items": _json,
        "minutes": _json,
        "item_id": _json,
        "module_id": _json,
        "channel": st.sampled_from(["call", "message", "x"]),
        "by": st.sampled_from(["coach", "patient", 1]),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_event | _json, min_size=0, max_size=3), _json)
def test_any_payload_decodes_or_raises_decode_error(events: list[Any], seq: Any) -> None:
    payload = json.dumps({"v": 1, "seq": seq, "events": events}).encode()
    try:
        got = decode_programme_payload(PARTS, payload)
    except DecodeError:
        return
    assert all(isinstance(e, ProgrammeEvent) for e in got)
    assert VALIDATOR.is_valid(json.loads(payload))  # what the decoder accepts, the schema does
