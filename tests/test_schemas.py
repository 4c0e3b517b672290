"""The published JSON Schemas agree with the documentation, the encoders and the decoders.

Truths: the documented examples in ``docs/`` must validate; every payload the project's own
encoders and live-session service produce must validate; and for a table of payloads and plans,
the schema and the hand-written decoder or loader give the same verdict (accept or refuse).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adherence.cli import main
from adherence.errors import PlanError
from adherence.plan import parse_plans
from devices.errors import DecodeError
from devices.frame import StreamKind, make_frame
from devices.mqtt_wire import (
    decode_payload,
    encode_json_samples,
    encode_session_event,
    encode_status,
    parse_topic,
)
from devices.schemas import NAMES, first_error, schema
from features.synthetic import synth_session
from ingest.session import LiveSession, Target
from tests.support.plans import DELETE, edited

REPO = Path(__file__).resolve().parents[1]
T0 = 1_794_304_800_000_000_000


def _json_blocks(md: Path) -> list[Any]:
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", md.read_text(), re.S)]


def test_every_schema_is_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    for name in NAMES:
        Draft202012Validator.check_schema(schema(name))


def test_unknown_schema_is_refused_with_the_known_names() -> None:
    with pytest.raises(KeyError, match="known: mqtt-samples-1"):
        schema("nope")


def test_wire_examples_in_the_docs_validate() -> None:
    blocks = _json_blocks(REPO / "docs" / "mqtt.md")
    kinds = {"samples": "mqtt-samples-1", "events": "mqtt-session-1", "state": "mqtt-status-1"}
    kinds["seqs"] = "mqtt-receipt-1"
    seen = set()
    kinds["event_id"] = "mqtt-programme-1"
    for doc in blocks:
        if any("event_id" in e for e in doc.get("events", [])):
            name = "mqtt-programme-1"
        else:
            name = next(v for k, v in kinds.items() if k in doc)
        seen.add(name)
        assert first_error(name, doc) is None, doc
    assert seen == set(kinds.values())  # the docs show each payload kind


def test_care_plan_examples_validate() -> None:
    examples = _json_blocks(REPO / "docs" / "care_plan.md")
    assert len(examples) == 2  # the plan, and the plan with programme components
    for example in examples:
        assert first_error("care-plan-1", example) is None
    sample = json.loads((REPO / "sample_data" / "care_plans.json").read_text())
    assert first_error("care-plan-1", sample) is None


def test_encoders_write_what_the_schemas_describe() -> None:
    samples = json.loads(encode_json_samples(3, [(T0, 1520), (T0 + 60 * 10**9, 1597)]))
    assert first_error("mqtt-samples-1", samples, stream="step_total") is None
    start = json.loads(encode_session_event(0, "start", T0, "s-1", "bridge", "core-a"))
    assert first_error("mqtt-session-1", start) is None
    assert first_error("mqtt-status-1", json.loads(encode_status("offline", T0))) is None


GOOD = {"v": 1, "seq": 7, "samples": [[T0, 12]]}
SAMPLE_CASES: list[tuple[str, str, Any, bool]] = [
    # (stream, what changes, payload, valid)
    ("step_total", "good", GOOD, True),
    ("symptom", "pain 10 is the top of the scale", {**GOOD, "samples": [[T0, 10]]}, True),
    ("symptom", "pain above 10", {**GOOD, "samples": [[T0, 10.5]]}, False),
    ("symptom", "negative pain", {**GOOD, "samples": [[T0, -1]]}, False),
    ("step_total", "a bool is not a version", {**GOOD, "v": True}, False),
    ("step_total", "version 2", {**GOOD, "v": 2}, False),
    ("step_total", "negative seq", {**GOOD, "seq": -1}, False),
    ("step_total", "no samples", {**GOOD, "samples": []}, False),
    ("step_total", "a sample of three", {**GOOD, "samples": [[T0, 1, 2]]}, False),
    ("step_total", "time before 2000", {**GOOD, "samples": [[10**9, 1]]}, False),
    ("step_total", "value as a string", {**GOOD, "samples": [[T0, "12"]]}, False),
    ("step_total", "missing seq", {"v": 1, "samples": [[T0, 1]]}, False),
]


@pytest.mark.parametrize(("stream", "what", "payload", "valid"), SAMPLE_CASES)
def test_samples_schema_and_decoder_agree(
    stream: str, what: str, payload: Any, valid: bool
) -> None:
    assert (first_error("mqtt-samples-1", payload, stream=stream) is None) is valid, what
    parts = parse_topic("ap", f"ap/site1/P001/dev1/{stream}")
    if valid:
        decode_payload(parts, json.dumps(payload).encode(), T0)
    else:
        with pytest.raises(DecodeError):
            decode_payload(parts, json.dumps(payload).encode(), T0)


def test_decoder_is_stricter_than_the_schema_on_integer_literals() -> None:
    """JSON Schema counts 1.7e18 as an integer (zero fraction); the decoder wants an integer
    literal, since a float cannot hold every nanosecond. The schema says so in words."""
    payload = {**GOOD, "samples": [[1.7e18, 1]]}
    assert first_error("mqtt-samples-1", payload, stream="step_total") is None
    with pytest.raises(DecodeError, match=r"samples\[0\] must be \[t_ns integer"):
        decode_payload(
            parse_topic("ap", "ap/s/P001/d/step_total"), json.dumps(payload).encode(), T0
        )


def test_schema_names_the_field_that_is_wrong() -> None:
    bad = {**GOOD, "samples": [[T0, 1], [T0, -3]]}
    assert first_error("mqtt-samples-1", bad, stream="step_total") == (
        "samples[1][1]: -3 is less than the minimum of 0"
    )


def test_huge_numbers_give_a_short_message() -> None:
    msg = first_error("mqtt-samples-1", {**GOOD, "samples": [[10**400, 1]]}, stream="step_total")
    assert msg is not None and msg.startswith("samples[0][0]: ") and len(msg) < 200


SESSION_START: dict[str, Any] = {
    "v": 1,
    "seq": 0,
    "events": [{"event": "start", "t_ns": T0, "session_id": "s-1", "exercise": "bridge"}],
}


def test_session_start_needs_an_exercise_and_stop_does_not() -> None:
    start = copy.deepcopy(SESSION_START)
    del start["events"][0]["exercise"]
    assert first_error("mqtt-session-1", start) == "events[0]: 'exercise' is a required property"
    stop = {"v": 1, "seq": 1, "events": [{"event": "stop", "t_ns": T0, "session_id": "s-1"}]}
    assert first_error("mqtt-session-1", stop) is None


def test_live_session_feedback_validates() -> None:
    """Every feedback event of a counted synthetic session (rep, set_end, session_end) validates."""
    rec = synth_session("bridge", [4, 4], rest_s=25.0, fs_hz=50.0, seed=3)
    session = LiveSession("s-1", "P001", "dev1", "bridge", T0, target=Target(2, 4))
    events = [session.start_feedback()]
    n = len(rec.accel_g)
    t = T0 + (np.arange(n) * 1e9 / 50.0).astype(np.int64)
    for seq, i in enumerate(range(0, n, 25)):
        frame = make_frame(
            "P001",
            "dev1",
            StreamKind.ACCEL,
            t[i : i + 25],
            rec.accel_g[i : i + 25],
            fs_hz=50.0,
            seq=seq,
        )
        events += session.feed(frame)
    events += session.finish(int(t[-1]), "complete")
    kinds = {fb.kind for fb in events}
    assert {"session_start", "rep", "set_end", "session_end"} <= kinds
    for fb in events:
        assert first_error("mqtt-feedback-1", json.loads(fb.to_json())) is None, fb


def _plans() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REPO / "sample_data" / "care_plans.json").read_text())
    return doc


PLAN_CASES = [
    ("plans.0.length_days", 0),
    ("plans.0.length_days", True),
    ("plans.0.subject", "has space"),
    ("plans.0.start_date", "2026-13-45"),
    ("plans.0.sessions.0.weekdays", ["friday"]),
    ("plans.0.sessions.0.weekdays", []),
    ("plans.0.sessions.0.exercises.0.sets", 51),
    ("plans.0.step_goal.start", 0),
    ("plans.0.step_goal", DELETE),
    ("plans.0.extra", 1),
    ("format", "adherence-care-plan/2"),
]


@pytest.mark.parametrize(("path", "value"), PLAN_CASES)
def test_plan_schema_and_loader_both_refuse(path: str, value: Any) -> None:
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    doc = edited(_plans(), keys, value)
    assert first_error("care-plan-1", doc) is not None
    with pytest.raises(PlanError):
        parse_plans(doc)


def test_open_mhealth_export_validates(tmp_path: Path) -> None:
    store = tmp_path / "demo.sqlite"
    assert main(["demo", "--store", str(store), "--no-progress"]) == 0
    key = tmp_path / "key"
    key.write_bytes(b"k" * 32)
    out = tmp_path / "out"
    plans = REPO / "sample_data" / "care_plans.json"
    args = ["export", "--store", str(store), "--out", str(out), "--plans", str(plans)]
    assert main([*args, "--key-file", str(key), "--no-progress"]) == 0
    records = json.loads((out / "step-count.omh.json").read_text())
    assert len(records) > 0
    for rec in records:
        assert first_error("omh-step-count-3.0", rec) is None, rec
    broken = copy.deepcopy(records[0])
    broken["body"]["step_count"]["unit"] = "step"
    assert first_error("omh-step-count-3.0", broken) is not None
    del broken["body"]["effective_time_frame"]["time_interval"]["end_date_time"]
    assert first_error("omh-step-count-3.0", broken) is not None


def test_programme_schema_and_decoder_agree() -> None:
    from devices.mqtt_wire import TopicParts
    from devices.programme import decode_programme_payload, encode_programme_events
    from features.synthetic_programme import sample_programme_payloads

    for payload in sample_programme_payloads("P001"):
        assert first_error("mqtt-programme-1", json.loads(payload)) is None
    parts = TopicParts("ap", "s", "P001", "app", "programme")  # parse_topic: after the merge hook
    bad = {"event_id": "e1", "event": "pain", "t_ns": T0, "nrs": 11}
    assert (
        first_error("mqtt-programme-1", json.loads(encode_programme_events(0, [bad]))) is not None
    )
    with pytest.raises(DecodeError, match=r"events\[0\]\.nrs"):
        decode_programme_payload(parts, encode_programme_events(0, [bad]))


def test_session_pain_fields_in_the_schema() -> None:
    start = {"event": "start", "t_ns": T0, "session_id": "s-1", "exercise": "bridge"}
    stop = {"event": "stop", "t_ns": T0, "session_id": "s-1"}
    ok = [{**start, "pain_before": 6}, {**stop, "pain_after": 4.5}]
    bad = [{**start, "pain_after": 4}, {**stop, "pain_before": 6}, {**start, "pain_before": 11}]
    for e in ok:
        assert first_error("mqtt-session-1", {"v": 1, "seq": 0, "events": [e]}) is None
    for e in bad:
        assert first_error("mqtt-session-1", {"v": 1, "seq": 0, "events": [e]}) is not None


@pytest.mark.parametrize(
    "components",
    [
        {"coaching": {"every_days": 14, "channel": "video"}},
        {"education": {"per_week": 0}},
        {"education": {"per_week": 2, "minutes": 5}},
        {"symptoms": {"pain_daily": "yes"}},
        {"exercise": {}},
    ],
)
def test_plan_components_schema_and_loader_both_refuse(components: Any) -> None:
    from adherence.errors import PlanError
    from adherence.plan import parse_plans

    doc = json.loads((REPO / "sample_data" / "care_plans.json").read_text())
    doc["plans"][0]["components"] = components
    assert first_error("care-plan-1", doc) is not None
    with pytest.raises(PlanError):
        parse_plans(doc)
