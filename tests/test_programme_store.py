"""Programme events in the real store: stored once per (subject, event_id), read back typed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from devices.programme import ProgrammeEvent, programme_event
from ingest.store import Store

T0 = 1_794_304_800_000_000_000
H_NS = 3600 * 10**9


def events() -> list[ProgrammeEvent]:
    return [
        programme_event("s", "P001", "app", "e-1", "education_completed", T0, 3, item_id="a1", minutes=5),
        programme_event("s", "P001", "app", "e-2", "pain", T0 + H_NS, 3, nrs=6),
        programme_event("s", "P001", "app", "e-3", "peg", T0 + 2 * H_NS, 4, items=[6, 5, 4]),
        programme_event("s", "P002", "app", "e-1", "pain", T0, 9, nrs=2),
        programme_event("s", "P001", "app", "e-4", "coaching_contact", T0 + 3 * H_NS, 4, channel="call", by="coach"),
    ]  # fmt: skip


def test_replay_stores_once_and_reads_back_typed(store: Store) -> None:
    assert store.put_programme_events(events()) == 5
    assert store.put_programme_events(events()) == 0
    # the same event re-sent inside another message (another seq) is still the same event
    resent = programme_event("s", "P001", "app", "e-2", "pain", T0 + H_NS, 77, nrs=6)
    assert store.put_programme_events([resent]) == 0
    assert store.count("programme_events") == 5
    got = store.programme_events("P001")
    assert got == [e for e in events() if e.subject == "P001"]
    assert got[2].peg_items == (6.0, 5.0, 4.0)


def test_filters_by_time_and_kind(store: Store) -> None:
    store.put_programme_events(events())
    assert [e.event_id for e in store.programme_events("P001", T0 + H_NS, T0 + 3 * H_NS)] == [
        "e-2",
        "e-3",
    ]
    assert [e.event_id for e in store.programme_events("P001", kinds=["pain", "peg"])] == [
        "e-2",
        "e-3",
    ]
    assert store.programme_events("P001", kinds=[]) == []
    assert [e.nrs for e in store.programme_events("P002")] == [2.0]


def test_joins_an_open_transaction_and_rolls_back_with_it(store: Store) -> None:
    try:
        with store.transaction():
            assert store.put_programme_events(events()[:2]) == 2
            raise RuntimeError("collector batch failed")
    except RuntimeError:
        pass
    assert store.count("programme_events") == 0


def test_table_is_added_to_a_store_made_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE programme_events")  # what a store written by the previous version has
    db.commit()
    db.close()
    with Store(path) as s:
        assert s.put_programme_events(events()[:1]) == 1


def test_collector_path_decode_split_store_replay(store: Store) -> None:
    """What the collector does once the hooks are in: decode, split, store; a replay adds nothing."""
    import json

    from devices.mqtt_wire import DeviceEvent, TopicParts
    from devices.programme import (
        encode_programme_events,
        programme_device_events,
        split_programme_events,
    )

    parts = TopicParts("adh", "s", "P001", "app", "programme")
    payload = encode_programme_events(3, events()[:3])
    status = DeviceEvent("s", "P001", "imu", "status", T0, 0, None, None, {"state": "online"})
    for _ in range(2):  # the second pass is a broker redelivery
        decoded = [*programme_device_events(parts, json.loads(payload)), status]
        programme, others = split_programme_events(decoded)
        assert others == [status]
        assert [e.event_id for e in programme] == ["e-1", "e-2", "e-3"]
        store.put_programme_events(programme)
    assert store.count("programme_events") == 3
    got = store.programme_events("P001")
    assert [(e.event_id, e.t_ns, e.fields()) for e in got] == [
        (e.event_id, e.t_ns, e.fields()) for e in events()[:3]
    ]
    assert {e.seq for e in got} == {3}  # the carrying message's seq
