"""Recording files: round trip, and every kind of corruption refused with the file named."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from devices.errors import DataFileError
from devices.frame import StreamKind
from devices.recording import read_recording, write_recording

T0 = 1_794_000_000_000_000_000
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "recordings"


def _write(tmp_path: Path, n: int = 120) -> Path:
    t = T0 + np.arange(n, dtype=np.int64) * 20_000_000
    data = np.column_stack([np.sin(np.arange(n) / 5), np.zeros(n), np.ones(n)])
    return write_recording(
        tmp_path, "w1", {"subject": "P009", "device": "d9", "kind": "walk", "fs_hz": 50.0}, t, data
    )


def test_round_trip_and_frames(tmp_path: Path) -> None:
    meta = _write(tmp_path)
    rec = read_recording(meta)
    assert rec.t_ns[0] == T0 and rec.t_ns.size == 120
    assert rec.accel_g[:, 2].tolist() == [1.0] * 120
    assert rec.accel_g[7, 0] == round(float(np.sin(7 / 5)), 5)
    frames = list(rec.frames(samples_per_frame=50))
    assert [f.n for f in frames] == [50, 50, 20]
    assert [f.seq for f in frames] == [0, 1, 2]
    assert all(f.stream is StreamKind.ACCEL and f.subject == "P009" for f in frames)


def test_writing_twice_is_byte_identical(tmp_path: Path) -> None:
    a = (tmp_path / "a").joinpath()
    b = tmp_path / "b"
    pa, pb = _write(a), _write(b)
    assert pa.read_bytes() == pb.read_bytes()
    assert (a / "w1.csv.gz").read_bytes() == (b / "w1.csv.gz").read_bytes()


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _edit_meta(meta: Path, key: str, value: str) -> None:
    meta.write_text(json.dumps({**json.loads(meta.read_text()), key: value}))


#: How to damage a written recording: (csv path, meta path) -> None.
_CORRUPTIONS: dict[str, Callable[[Path, Path], object]] = {
    "missing_csv": lambda csv, meta: csv.unlink(),
    "truncated_gzip": lambda csv, meta: csv.write_bytes(csv.read_bytes()[:-40]),
    "not_gzip": lambda csv, meta: csv.write_bytes(b"t_ns,ax_g,ay_g,az_g\n1,2,3,4\n"),
    "bad_header": lambda csv, meta: csv.write_bytes(_gz("time,x,y,z\n1,2,3,4\n")),
    "bad_number": lambda csv, meta: csv.write_bytes(_gz(f"t_ns,ax_g,ay_g,az_g\n{T0},0.1,abc,1\n")),
    "nan": lambda csv, meta: csv.write_bytes(_gz(f"t_ns,ax_g,ay_g,az_g\n{T0},0.1,nan,1\n")),
    "backwards": lambda csv, meta: csv.write_bytes(
        _gz(f"t_ns,ax_g,ay_g,az_g\n{T0},0,0,1\n{T0 - 5},0,0,1\n")
    ),
    "bad_json": lambda csv, meta: meta.write_text("{not json"),
    "bad_kind": lambda csv, meta: _edit_meta(meta, "kind", "video"),
    "bad_subject": lambda csv, meta: _edit_meta(meta, "subject", "Jane Doe"),
}


def _corrupt(tmp_path: Path, how: str) -> Path:
    meta = _write(tmp_path)
    _CORRUPTIONS[how](tmp_path / "w1.csv.gz", meta)
    return meta


@pytest.mark.parametrize(
    ("how", "match"),
    [
        ("missing_csv", "w1.csv.gz: file not found"),
        ("truncated_gzip", "w1.csv.gz: corrupt gzip"),
        ("not_gzip", "w1.csv.gz: corrupt gzip"),
        ("bad_header", "w1.csv.gz: header must be"),
        ("bad_number", "w1.csv.gz: unparsable row"),
        ("nan", "w1.csv.gz: contains NaN"),
        ("backwards", "w1.csv.gz: t_ns goes backwards at line 3"),
        ("bad_json", "w1.meta.json: not valid JSON"),
        ("bad_kind", "w1.meta.json: 'kind' must be one of"),
        ("bad_subject", "w1.csv.gz: invalid samples"),
    ],
)
def test_corrupt_recordings_are_refused(tmp_path: Path, how: str, match: str) -> None:
    meta = _corrupt(tmp_path, how)
    with pytest.raises(DataFileError, match=match):
        read_recording(meta)


def test_sample_walk_truth_matches_oxford_stats() -> None:
    # Oxford optimisation/stats.csv: Samsung_Carmelo_Hard_BackPocket_1 has 314 steps.
    rec = read_recording(SAMPLE / "walk-P001-2026-11-10.meta.json")
    assert rec.meta["truth"]["steps"] == 314 == len(rec.meta["truth"]["step_times_ns"])
    assert rec.meta["synthetic"] is False and "CC BY 4.0" in rec.meta["licence"]
    # gravity: a phone in a pocket measures about 1 g on average
    assert abs(float(np.median(np.linalg.norm(rec.accel_g, axis=1))) - 1.0) < 0.1


def test_sample_data_is_small_and_labelled() -> None:
    root = SAMPLE.parent
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 10_000_000
    for meta in SAMPLE.glob("*.meta.json"):
        doc = json.loads(meta.read_text())
        assert doc["synthetic"] is (not meta.name.startswith("walk-")), meta.name
