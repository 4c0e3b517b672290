"""The embedded store: idempotent writes, crash safety under SIGKILL, dead letters, outbox."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ingest.errors import StoreError
from ingest.store import RepRecord, SessionRecord, SetRecord, Store
from tests.support.frames import T0, accel_frame

REPO = Path(__file__).resolve().parents[1]


def test_same_frame_twice_is_stored_once(store: Store) -> None:
    frames = [accel_frame(i) for i in range(5)]
    assert store.put_frames(frames) == 5
    assert store.put_frames(frames) == 0
    assert store.put_frames([accel_frame(2), accel_frame(5)]) == 1
    assert store.count("frames") == 6
    got = list(store.frames(subject="P001"))
    assert [f.seq for f in got] == [0, 1, 2, 3, 4, 5]
    assert all(g.same_content(accel_frame(g.seq)) for g in got)


def test_read_stream_concatenates_in_time_order(store: Store) -> None:
    store.put_frames([accel_frame(1), accel_frame(0)])
    t, v = store.read_stream("P001", "accel")
    assert t.size == 100 and np.all(np.diff(t) == 20_000_000)
    assert v[:50, 0].tolist() == [0.0] * 50 and v[50:, 0].tolist() == [1.0] * 50
    t2, _ = store.read_stream(
        "P001", "accel", start_ns=T0 + 10 * 20_000_000, end_ns=T0 + 60 * 20_000_000
    )
    assert t2.size == 50 and t2[0] == T0 + 10 * 20_000_000


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_frames([accel_frame(0)])
        store.dead_letter("test", "reason")
        raise RuntimeError("boom")
    assert store.count("frames") == 0 and store.count("dead_letter") == 0


def test_dead_letter_keeps_payload_and_reason(store: Store) -> None:
    i = store.dead_letter("mqtt:a/b", "truncated frame", b"\x01\x02", {"offset": 2})
    (dl,) = store.dead_letters("mqtt:")
    assert (dl.id, dl.reason, dl.payload, dl.context) == (
        i,
        "truncated frame",
        b"\x01\x02",
        {"offset": 2},
    )
    assert store.dead_letters("ble:") == []


def test_outbox_is_fifo_and_reject_moves_to_dead_letter(store: Store) -> None:
    store.enqueue("influx", ["m v=1i 1", "m v=2i 2", "m v=3i 3"])
    items = store.outbox_peek("influx", limit=2)
    assert [i.body for i in items] == ["m v=1i 1", "m v=2i 2"]
    store.outbox_done([items[0].id])
    store.outbox_reject([items[1].id], "400: field type conflict")
    store.outbox_failed([items[1].id + 1], "503")
    (left,) = store.outbox_peek("influx")
    assert left.body == "m v=3i 3" and left.attempts == 1
    (dl,) = store.dead_letters("outbox:")
    assert dl.payload == b"m v=2i 2" and dl.reason == "400: field type conflict"
    assert store.outbox_size("influx") == 1 and store.outbox_size("other") == 0


def test_session_roundtrip_and_replace(store: Store) -> None:
    rep = RepRecord(T0, T0 + 2_000_000_000, 2.0, 25.0)
    s = SessionRecord(
        "s1",
        "P001",
        "bridge",
        T0,
        T0 + 10**10,
        "core-a",
        "batch",
        "complete",
        (SetRecord(0, T0, T0 + 10**10, (rep, rep)),),
        {"k": 1},
    )
    store.put_session(s)
    store.put_session(s)
    (got,) = store.sessions("P001")
    assert got == s and got.reps == 2
    assert store.count("repetitions") == 2


def test_unknown_table_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown table"):
        store.count("frames; DROP TABLE frames")


def test_corrupt_file_is_a_store_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        Store(p)


WRITER = textwrap.dedent(
    """
    import sys
    from ingest.store import Store
    from tests.support.frames import accel_frame
    store = Store(sys.argv[1])
    seq = 0
    while True:
        store.put_frames([accel_frame(seq), accel_frame(seq + 1)])
        store.dead_letter("writer", f"batch {seq}")
        print(seq + 1, flush=True)   # reported only after the commit returned
        seq += 2
    """
)


def test_sigkill_mid_write_keeps_every_committed_frame(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    committed = -1
    while committed < 400:
        line = proc.stdout.readline()
        assert line, "writer died before it was killed"
        committed = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(path)
    seqs = sorted(f.seq for f in store.frames())
    # Everything reported committed is there, and every stored frame is intact and unique.
    assert seqs[: committed + 1] == list(range(committed + 1))
    assert len(seqs) == len(set(seqs))
    for f in store.frames():
        assert f.same_content(accel_frame(f.seq))
    assert len(store.dead_letters("writer")) >= (committed + 1) // 2
    store.close()
