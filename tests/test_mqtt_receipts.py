"""Receipts: the wire codec (``devices.mqtt_wire``) and the device's buffer (``ingest.mqtt_device``).

Truths: golden bytes written out by hand from the layout in ``docs/mqtt.md``; ranges and
splits computed by hand; for a table of payloads, the decoder and the published schema give the
same verdict; the buffer's resend times follow from its stated rule (wait doubles per resend,
capped at 8 times the first wait).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from devices.errors import DecodeError
from devices.mqtt_wire import (
    MAX_RECEIPT_DEAD,
    MAX_RECEIPT_RANGES,
    Receipt,
    decode_receipt,
    encode_imu_frame,
    encode_json_samples,
    encode_receipt,
    make_receipts,
    message_seq,
    receipt_topic,
    seq_ranges,
)
from devices.programme import encode_programme_events
from devices.schemas import first_error
from ingest.mqtt_device import Unconfirmed

T0 = 1_794_304_800_000_000_000
DIGEST_X = hashlib.sha256(b"x").hexdigest()


def test_receipt_golden_bytes() -> None:
    r = Receipt(T0, (("accel", ((0, 41), (43, 43))), ("step_total", ((7, 7),))), (DIGEST_X,))
    expected = (
        b'{"v":1,"t_ns":1794304800000000000,"seqs":{"accel":[[0,41],[43,43]],'
        b'"step_total":[[7,7]]},"dead":["' + DIGEST_X.encode() + b'"]}'
    )
    assert encode_receipt(r) == expected
    assert decode_receipt(expected) == r
    assert first_error("mqtt-receipt-1", json.loads(expected)) is None
    assert r.ranges("accel") == ((0, 41), (43, 43)) and r.ranges("gyro") == ()


@pytest.mark.parametrize(
    ("seqs", "ranges"),
    [
        ([], ()),
        ([5], ((5, 5),)),
        ([3, 1, 2, 7], ((1, 3), (7, 7))),
        ([1, 1, 2], ((1, 2),)),
        ([0, 2, 4], ((0, 0), (2, 2), (4, 4))),
        ([2**63 - 1, 2**63 - 2], ((2**63 - 2, 2**63 - 1),)),
    ],
)
def test_seq_ranges(seqs: list[int], ranges: tuple[tuple[int, int], ...]) -> None:
    assert seq_ranges(seqs) == ranges


def test_make_receipts_groups_by_stream_and_splits_at_the_limits() -> None:
    assert make_receipts(T0, []) == []
    (one,) = make_receipts(T0, [("gyro", 4), ("accel", 1), ("accel", 0), ("gyro", 5)], ["b" * 64])
    assert one == Receipt(T0, (("accel", ((0, 1),)), ("gyro", ((4, 5),))), ("b" * 64,))
    # 10,001 isolated seqs (even numbers) are 10,001 ranges: two receipts
    many = make_receipts(T0, [("accel", 2 * i) for i in range(MAX_RECEIPT_RANGES + 1)])
    assert [len(r.ranges("accel")) for r in many] == [MAX_RECEIPT_RANGES, 1]
    assert many[1].ranges("accel") == ((2 * MAX_RECEIPT_RANGES, 2 * MAX_RECEIPT_RANGES),)
    digests = [f"{i:064x}" for i in range(MAX_RECEIPT_DEAD + 1)]
    dead = make_receipts(T0, [], digests)
    assert [len(r.dead) for r in dead] == [MAX_RECEIPT_DEAD, 1]
    for r in many + dead:
        assert decode_receipt(encode_receipt(r)) == r


GOOD: dict[str, Any] = {"v": 1, "t_ns": T0, "seqs": {"accel": [[0, 3]]}, "dead": []}
BAD_CASES: list[tuple[str, Any, str]] = [
    # (what, payload, decoder message)
    ("a bool is not a version", {**GOOD, "v": True}, "'v' must be 1"),
    ("version 2", {**GOOD, "v": 2}, "'v' must be 1"),
    ("unknown field", {**GOOD, "x": 1}, "unknown field 'x'"),
    ("time before 2000", {**GOOD, "t_ns": 10**9}, "'t_ns' must be UTC ns"),
    ("time as a bool", {**GOOD, "t_ns": True}, "'t_ns' must be UTC ns"),
    ("seqs a list", {**GOOD, "seqs": [[0, 3]]}, "'seqs' must be an object"),
    ("status is not receipted", {**GOOD, "seqs": {"status": [[0, 0]]}}, "not a receipted"),
    ("no ranges", {**GOOD, "seqs": {"accel": []}}, "non-empty list"),
    ("first > last", {**GOOD, "seqs": {"accel": [[3, 2]]}}, "0 <= first <= last"),
    ("negative", {**GOOD, "seqs": {"accel": [[-1, 2]]}}, "0 <= first <= last"),
    ("beyond int64", {**GOOD, "seqs": {"accel": [[0, 2**63]]}}, "0 <= first <= last"),
    ("a bool seq", {**GOOD, "seqs": {"accel": [[True, 2]]}}, "must be [first, last]"),
    ("a range of three", {**GOOD, "seqs": {"accel": [[0, 1, 2]]}}, "must be [first, last]"),
    ("overlapping", {**GOOD, "seqs": {"accel": [[0, 3], [3, 5]]}}, "must start after 4"),
    ("touching (not merged)", {**GOOD, "seqs": {"accel": [[0, 3], [4, 5]]}}, "start after 4"),
    ("out of order", {**GOOD, "seqs": {"accel": [[5, 6], [0, 1]]}}, "must start after 7"),
    ("dead not a list", {**GOOD, "dead": "ab"}, "'dead' must be a list"),
    ("upper-case digest", {**GOOD, "dead": ["A" * 64]}, "64 lowercase hex"),
    ("short digest", {**GOOD, "dead": ["a" * 63]}, "64 lowercase hex"),
    ("a digest twice", {**GOOD, "dead": ["a" * 64, "a" * 64]}, "a digest twice"),
    ("confirms nothing", {**GOOD, "seqs": {}}, "must confirm something"),
    ("missing dead", {k: v for k, v in GOOD.items() if k != "dead"}, "'dead' must be a list"),
]

ORDER_RULES = ("first > last", "overlapping", "touching (not merged)", "out of order")


@pytest.mark.parametrize(("what", "payload", "why"), BAD_CASES)
def test_bad_receipts_are_refused_by_decoder_and_schema(what: str, payload: Any, why: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(why)):
        decode_receipt(json.dumps(payload).encode(), "dev1")
    if what not in ORDER_RULES:
        assert first_error("mqtt-receipt-1", payload) is not None, what  # the schema agrees
    else:  # order is a rule the schema cannot state (it says so in its description)
        assert first_error("mqtt-receipt-1", payload) is None


def test_a_receipt_that_is_not_json_is_refused() -> None:
    with pytest.raises(DecodeError, match="invalid JSON"):
        decode_receipt(b"{", "dev1")
    with pytest.raises(DecodeError, match="not UTF-8"):
        decode_receipt(b"\xff", "dev1")
    too_many = {**GOOD, "seqs": {"accel": [[2 * i, 2 * i] for i in range(MAX_RECEIPT_RANGES + 1)]}}
    with pytest.raises(DecodeError, match="more than 10000 ranges"):
        decode_receipt(json.dumps(too_many).encode())


@pytest.mark.parametrize(
    ("stream", "payload", "seq"),
    [
        ("accel", encode_imu_frame("accel", 7, T0, 50.0, [[0, 0, 1]], scale=2**-12), 7),
        ("gyro", encode_imu_frame("gyro", 2**32 - 1, T0, 50.0, [[0, 0, 1]]), 2**32 - 1),
        ("accel", b"AP\x01\x01", None),  # truncated before the seq
        ("accel", b"XX" + bytes(26), None),  # not a frame
        ("step_total", encode_json_samples(12, [(T0, 5.0)]), 12),
        ("step_total", b'{"v":1,"seq":true,"samples":[]}', None),
        ("step_total", b'{"v":1,"samples":[]}', None),
        ("step_total", b"{", None),
        ("programme", encode_programme_events(2**40, []), 2**40),
        ("status", b'{"v":1,"seq":3}', None),  # status is never receipted
    ],
)
def test_message_seq(stream: str, payload: bytes, seq: int | None) -> None:
    assert message_seq(stream, payload) == seq


@pytest.mark.parametrize(
    ("topic", "receipt"),
    [
        ("adh/site1/P001/dev1/accel", "adh/site1/P001/dev1/receipt"),
        ("a/b/site1/P001/dev1/session", "a/b/site1/P001/dev1/receipt"),
        ("adh/site1/P001/dev1/nonsense", "adh/site1/P001/dev1/receipt"),  # dead, receipted
        ("adh/site1/P001/dev1/status", None),
        ("adh/site1/P001/dev1/feedback", None),
        ("adh/site1/P001/dev1/receipt", None),
        ("adh/site1/P001/accel", None),
        ("adh/site1/P 001/dev1/accel", None),
        ("other/site1/P001/dev1/accel", None),
    ],
)
def test_receipt_topic(topic: str, receipt: str | None) -> None:
    prefix = "a/b" if topic.startswith("a/b") else "adh"
    assert receipt_topic(prefix, topic) == receipt


BASE = "adh/site1/P001/dev1"


def _frame(seq: int) -> bytes:
    return encode_json_samples(seq, [(T0 + seq, float(seq))])


def test_buffer_confirms_by_range_and_by_dead_letter_digest() -> None:
    buf = Unconfirmed(limit=10)
    for seq in range(5):
        assert buf.add(f"{BASE}/step_total", _frame(seq), 0.0)
    poison = b"not json"
    assert buf.add(f"{BASE}/step_total", poison, 0.0)  # no seq: kept by its digest
    other = "adh/site1/P001/dev2"
    assert buf.add(f"{other}/step_total", _frame(1), 0.0)  # same payload, another device
    assert len(buf) == 7
    r = Receipt(T0, (("step_total", ((1, 3),)),), (hashlib.sha256(poison).hexdigest(),))
    assert buf.confirm(BASE, r) == 4
    assert buf.confirm(BASE, r) == 0  # a duplicate receipt confirms nothing more
    left = sorted(json.loads(p)["seq"] for t, p in buf.everything(1.0) if t.startswith(BASE))
    assert left == [0, 4] and len(buf) == 3  # dev2's message is not dev1's receipt's
    dead_dev2 = Receipt(T0, (), (hashlib.sha256(_frame(1)).hexdigest(),))
    assert buf.confirm(other, dead_dev2) == 1  # a dead-lettered copy is confirmed by digest
    huge = Receipt(T0, (("step_total", ((0, 2**62),)),))  # scanned, not enumerated
    assert buf.confirm(BASE, huge) == 2 and len(buf) == 0
    assert buf.confirmed == 7


def test_a_reused_seq_with_a_new_payload_replaces_the_old_one_and_its_digest() -> None:
    buf = Unconfirmed()
    old, new = _frame(3), encode_json_samples(3, [(T0 + 99, 1.0)])  # a restarted device
    buf.add(f"{BASE}/step_total", old, 0.0)
    buf.add(f"{BASE}/step_total", new, 1.0)
    assert len(buf) == 1
    assert buf.confirm(BASE, Receipt(T0, (), (hashlib.sha256(old).hexdigest(),))) == 0
    assert buf.confirm(BASE, Receipt(T0, (), (hashlib.sha256(new).hexdigest(),))) == 1


def test_full_buffer_keeps_the_oldest_and_refuses_the_newest() -> None:
    buf = Unconfirmed(limit=3)
    assert [buf.add(f"{BASE}/step_total", _frame(s), 0.0) for s in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert buf.refused == 2
    assert [json.loads(p)["seq"] for _, p in buf.everything(0.0)] == [0, 1, 2]
    assert buf.add(f"{BASE}/step_total", _frame(1), 5.0)  # a resend of a kept one: replaced
    assert buf.refused == 2 and len(buf) == 3
    with pytest.raises(ValueError, match="limit"):
        Unconfirmed(limit=0)


def test_resend_waits_double_up_to_eight_times() -> None:
    buf = Unconfirmed()
    buf.add(f"{BASE}/accel", encode_imu_frame("accel", 0, T0, 50.0, [[0, 0, 1]]), 0.0)
    # first wait 10 s, then 20, 40, 80, and 80 from then on (8 x 10 s)
    expected_s = [10.0, 30.0, 70.0, 150.0, 230.0, 310.0]
    got = []
    for t10 in range(0, 3200):  # every 0.1 s for 320 s
        t = t10 / 10
        if buf.due(t, 10.0):
            got.append(t)
    assert got == expected_s
    assert buf.resent == len(expected_s)
