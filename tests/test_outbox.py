"""Outbox sender policy with an in-memory far end: splitting, dead letters, capped backoff.

The real-server behaviour is in test_influx_v1/v2 and test_outbox_kill; here the far end is a
tiny scripted sink so that the request sequence can be checked exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adherence.errors import SinkError
from adherence.influx_sink import classify
from adherence.outbox import OutboxSender
from ingest.store import Store


class ScriptedSink:
    """Accepts lines unless they contain ``bad`` (400) or while ``down`` (no answer / status)."""

    name = "scripted"

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.stored: list[str] = []
        self.down: SinkError | None = None

    def write(self, lines: Sequence[str]) -> None:
        self.requests.append(list(lines))
        if self.down is not None:
            raise self.down
        if any("bad" in x for x in lines):
            raise classify(self.name, 400, "unable to parse 'bad'")
        self.stored.extend(lines)

    def close(self) -> None:
        pass


def test_bad_line_is_isolated_by_halving(store: Store) -> None:
    lines = [f"m v={i}i {i}" for i in range(8)]
    lines[5] = "bad 5"
    store.enqueue("s", lines)
    sink = ScriptedSink()
    result = OutboxSender(store, "s", sink, batch_size=8).drain_once()
    assert (result.delivered, result.rejected, result.error) == (7, 1, None)
    assert [len(r) for r in sink.requests] == [8, 4, 4, 2, 1, 1, 2]  # 0-7, 0-3, 4-7, 4-5, 4, 5, 6-7
    assert sink.stored == [x for x in lines if x != "bad 5"]  # order kept
    [dead] = store.dead_letters("outbox:s")
    assert dead.payload == b"bad 5" and "HTTP 400" in dead.reason
    assert store.outbox_size("s") == 0


def test_backoff_doubles_up_to_the_cap_then_resets(store: Store) -> None:
    store.enqueue("s", ["m v=1i 1"])
    sink = ScriptedSink()
    sink.down = classify("scripted", None, "connection refused")
    sender = OutboxSender(store, "s", sink, backoff_initial_s=0.5, backoff_max_s=3.0)
    waits = []
    for _ in range(6):
        assert sender.drain_once().error is sink.down
        waits.append(sender.status().retry_in_s)
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    st = sender.status()
    assert (st.backlog, st.failures_in_row, st.config_problem) == (1, 6, False)
    assert store.outbox_peek("s")[0].attempts == 6
    sink.down = classify("scripted", 503, "overloaded", retry_after_s=20.0)
    sender.drain_once()
    assert sender.status().retry_in_s == 20.0  # Retry-After is longer than the cap: honoured
    sink.down = None
    assert sender.drain_once().delivered == 1
    st = sender.status()
    assert (st.backlog, st.failures_in_row, st.retry_in_s, st.delivered) == (0, 0, 0.0, 1)
    assert st.line() == "s: backlog=0 delivered=1 dead=0"


@pytest.mark.parametrize(
    ("status", "permanent", "config"),
    [
        (400, True, False),
        (413, True, False),
        (422, True, False),
        (401, False, True),
        (403, False, True),
        (404, False, True),
        (429, False, False),
        (500, False, False),
        (503, False, False),
        (None, False, False),
    ],
)
def test_classification(status: int | None, permanent: bool, config: bool, store: Store) -> None:
    err = classify("x", status, "body")
    assert (err.status, err.permanent) == (status, permanent)
    store.enqueue("s", ["m v=1i 1", "m v=2i 2"])
    sink = ScriptedSink()
    sink.down = err
    sender = OutboxSender(store, "s", sink)
    result = sender.drain_once()
    if permanent:  # both lines refused one by one: dead-lettered, never retried
        assert (result.rejected, store.outbox_size("s")) == (2, 0)
    else:  # kept and retried
        assert (result.rejected, store.outbox_size("s"), result.error) == (0, 2, err)
        assert sender.status().config_problem is config
        assert ("CONFIG ERROR" in sender.status().line()) is config
