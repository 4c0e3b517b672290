"""The raw archive's compact encoding: 16-bit counts and grid times, lossless, old files read.

Every case writes frames into a store, archives it and reads the frames back, then compares
them with what was stored bit for bit (``tobytes``), and looks at the Parquet columns to check
which encoding was chosen.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adherence.archive import FRAME_SCHEMA, Target, archive_store, read_frames, subject_dir
from adherence.cohort_synth import quantise
from devices.frame import Frame, StreamKind
from ingest.store import Store

TZ = ZoneInfo("UTC")
T0_NS = 1_794_000_000_000_000_000  # 2026-11-06 UTC
FS_HZ = 50.0
N = 500


def _frame(
    seq: int, values: np.ndarray, *, stream: StreamKind = StreamKind.ACCEL, **kw: object
) -> Frame:
    t = kw.pop("t_ns", T0_NS + seq * 20 * 10**9 + np.arange(values.shape[0]) * 20_000_000)
    units = {StreamKind.ACCEL: ("g",) * 3, StreamKind.GYRO: ("deg/s",) * 3}.get(stream, ("steps",))
    return Frame(
        subject="S1",
        device="d1",
        stream=stream,
        t_ns=np.asarray(t, dtype=np.int64),
        values=values,
        units=units,
        fs_hz=kw.pop("fs_hz", FS_HZ),  # type: ignore[arg-type]
        seq=seq,
        **kw,  # type: ignore[arg-type]
    )


def _roundtrip(tmp_path: Path, frames: list[Frame]) -> tuple[list[Frame], pa.Table]:
    with Store(tmp_path / "s.sqlite") as store:
        store.put_frames(frames)
        archive_store(store, {"S1": TZ}, str(tmp_path / "a"))
    back = [f for batch in read_frames(str(tmp_path / "a"), "S1") for f in batch]
    files = sorted((tmp_path / "a" / "frames").rglob("*.parquet"))
    table = pa.concat_tables([pq.read_table(p, partitioning=None) for p in files])
    return back, table


def _same(a: Frame, b: Frame) -> bool:
    da, db = a.device_t_ns, b.device_t_ns
    return (
        a.t_ns.tobytes() == b.t_ns.tobytes()
        and a.values.tobytes() == b.values.tobytes()
        and a.values.shape == b.values.shape
        and (None if da is None else da.tobytes()) == (None if db is None else db.tobytes())
    )


def test_counts_and_grid_times_are_chosen_only_when_lossless(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    counts_g = rng.integers(-20000, 20000, (N, 3))
    jitter = T0_NS + 4 * 20 * 10**9 + np.arange(N) * 20_000_000 + rng.integers(0, 999, N)
    frames = [
        _frame(0, counts_g / 4096.0),  # counts at +-8 g, on the grid
        _frame(1, rng.normal(0.0, 1.0, (N, 3))),  # real float64: kept as float64
        _frame(2, rng.integers(-3000, 3000, (N, 3)) / 16.4, stream=StreamKind.GYRO),
        _frame(3, counts_g / 1000.0, device_t_ns=np.arange(N, dtype=np.int64) * 7),  # mG
        _frame(4, counts_g / 4096.0, t_ns=jitter),  # off the grid: times kept
        _frame(5, np.full((N, 3), -0.0)),  # -0.0 is not a count: kept as float64, sign kept
        _frame(6, np.full((N, 3), 9.0)),  # 36864 counts at 4096/g: 2048/g fits int16
        _frame(7, np.full((N, 3), 40.0)),  # no scale fits int16: float64
    ]
    back, table = _roundtrip(tmp_path, frames)
    by_seq = {f.seq: f for f in back}
    assert sorted(by_seq) == list(range(8))
    for f in frames:
        assert _same(f, by_seq[f.seq]), f.seq
    rows = {r["seq"]: r for r in table.select(["seq", "scale"]).to_pylist()}
    assert {s: rows[s]["scale"] for s in range(8)} == {
        0: 4096.0,
        1: None,
        2: 16.4,
        3: 1000.0,
        4: 4096.0,
        5: None,
        6: 2048.0,
        7: None,
    }
    grid = dict(
        zip(
            table.column("seq").to_pylist(), table.column("t_ns").is_null().to_pylist(), strict=True
        )
    )
    assert grid == {0: True, 1: True, 2: True, 3: True, 4: False, 5: True, 6: True, 7: True}
    assert np.signbit(by_seq[5].values).all()


def test_the_compact_file_is_much_smaller_than_float64_lists(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    walk = np.cumsum(rng.integers(-40, 41, (60 * N, 3)), axis=0)  # a slowly moving 16-bit axis
    frames = [_frame(i, walk[i * N : (i + 1) * N] / 4096.0) for i in range(60)]
    _, table = _roundtrip(tmp_path, frames)
    compact = sum(p.stat().st_size for p in (tmp_path / "a" / "frames").rglob("*.parquet"))
    raw_float64 = 60 * N * (3 * 8 + 8)  # samples and times as float64 / int64 lists
    assert table.column("values").null_count == 60
    assert compact < raw_float64 / 4


def test_archive_written_before_the_compact_encoding_reads_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = [_frame(i, rng.normal(0, 1, (N, 3))) for i in range(3)]
    # the columns before the compact encoding: today's without n, scale and counts
    old_schema = pa.schema([f for f in FRAME_SCHEMA if f.name not in ("n", "scale", "counts")])
    old = pa.table(
        {
            "device": [f.device for f in frames],
            "stream": [f.stream.value for f in frames],
            "seq": [f.seq for f in frames],
            "start_ns": [f.start_ns for f in frames],
            "end_ns": [f.end_ns for f in frames],
            "fs_hz": [f.fs_hz for f in frames],
            "units": [list(f.units) for f in frames],
            "k": [3, 3, 3],
            "t_ns": [f.t_ns.tolist() for f in frames],
            "values": [f.values.ravel().tolist() for f in frames],
            "device_t_ns": [None, None, None],
            "meta": ["{}", "{}", "{}"],
        },
        schema=old_schema,
    )
    day = dt.datetime.fromtimestamp(T0_NS / 1e9, tz=TZ).date().isoformat()
    target = Target(str(tmp_path / "a"))
    rel = posixpath.join("frames", subject_dir("S1"), f"date={day}", "part-old.parquet")
    target.write(rel, lambda f: pq.write_table(old, f))
    back = [f for batch in read_frames(str(tmp_path / "a"), "S1") for f in batch]
    assert [f.seq for f in back] == [0, 1, 2]
    assert all(_same(a, b) for a, b in zip(frames, back, strict=True))


@pytest.mark.parametrize(
    ("x", "scale", "expected"),
    [
        ([0.1, -0.1, 1.0], 4096.0, [410 / 4096, -410 / 4096, 1.0]),
        ([100.0, -100.0], 4096.0, [32767 / 4096, -32768 / 4096]),  # clipped to int16
        ([12.34], 16.4, [202 / 16.4]),
    ],
)
def test_quantise_gives_whole_16_bit_counts(
    x: list[float], scale: float, expected: list[float]
) -> None:
    out = quantise(np.array(x), scale)
    assert out.tolist() == expected
