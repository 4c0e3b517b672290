"""A scratch store (``Store(path, durable=False)``): fast to fill, same content, same reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from devices.frame import Frame, StreamKind
from ingest.store import Store

T0_NS = 1_794_000_000_000_000_000


def _frames(n: int) -> list[Frame]:
    rng = np.random.default_rng(0)
    return [
        Frame(
            subject="S1",
            device="d1",
            stream=StreamKind.ACCEL,
            t_ns=T0_NS + i * 10**9 + np.arange(50, dtype=np.int64) * 20_000_000,
            values=rng.normal(0, 1, (50, 3)),
            units=("g", "g", "g"),
            fs_hz=50.0,
            seq=i,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(("durable", "sync", "journal"), [(True, 2, "wal"), (False, 0, "memory")])
def test_durability_settings(tmp_path: Path, durable: bool, sync: int, journal: str) -> None:
    with Store(tmp_path / "s.sqlite", durable=durable) as store:
        assert store.execute("PRAGMA synchronous") == [(sync,)]
        assert store.execute("PRAGMA journal_mode") == [(journal,)]


def test_a_scratch_store_reads_back_what_was_written_and_rolls_back(tmp_path: Path) -> None:
    frames = _frames(20)
    with Store(tmp_path / "s.sqlite", durable=False) as store:
        assert store.put_frames(frames[:10]) == 10
        with pytest.raises(RuntimeError), store.transaction():
            store.put_frames(frames[10:])
            raise RuntimeError("abort")
        assert store.count("frames") == 10  # the aborted transaction left nothing
        t, v = store.read_stream("S1", StreamKind.ACCEL, device="d1")
    np.testing.assert_array_equal(t, np.concatenate([f.t_ns for f in frames[:10]]))
    np.testing.assert_array_equal(v, np.concatenate([f.values for f in frames[:10]]))
