"""The raw archive: a store's frames and sessions as a Parquet dataset, through fsspec.

Layout under the archive URL (hive style, readable by pyarrow, pandas, DuckDB or Spark with
hive partitioning)::

    frames/subject=<id>/date=<YYYY-MM-DD>/part-<hash>.parquet   raw frames, one file per subject
                                                                and local day
    sessions/subject=<id>/part-<hash>.parquet                   exercise sessions as registered
    events/subject=<id>/part-<hash>.parquet                     the app's events: session start/
                                                                stop (with pain), status, and
                                                                programme events (education,
                                                                CBT, coaching, pain, PEG)

``date`` is the local date (the subject's care-plan time zone, ``--plans``) of the frame's *first*
sample, so every frame is in exactly one partition. The partition columns (``subject``,
``date``) are in the path only, as hive partitioning expects.

Idempotent: a file's name is a hash of its partition key and of the store's ``source`` name
(never of the run or of its content) and its rows are written in (start_ns, device, stream,
seq) order in row groups of a fixed number of frames, so archiving the same store again writes
the same files with the same bytes; a day that received more data is rewritten whole under the
same name. Each file is written to a temporary name first and then moved into place, so a
reader never sees half a file. Several stores (one per gateway) archive into one dataset with
different ``source`` names, side by side. The frame identity (subject, device, stream, seq,
first time) is kept: loading the archive into a store (:func:`load_subject`) stores each frame
once (the store's unique key), so nothing is counted twice even when two gateways stored the
same frame; readers of the dataset that do not go through a store deduplicate on those five
columns.

Local archives get folders 0700 and files 0600 (health data). Object stores take their URL
(``s3://bucket/prefix``, ``gs://...``, ``abfs://...``) with the matching fsspec driver
installed; their permissions are the bucket's.

Columns of ``frames``: ``device``, ``stream`` (strings), ``seq``, ``start_ns``, ``end_ns``
(int64, UTC ns), ``fs_hz`` (float64, null for event streams), ``units`` (list of strings),
``k`` (columns per sample), ``n`` (samples), ``t_ns`` (list of int64, UTC ns; null when the
times are the frame's nominal grid, see below), ``values`` (list of float64, the (n, k) samples
row by row; null when ``counts`` holds them), ``scale`` (float64, counts per unit; null with
``values``), ``counts`` (list of int16, the samples column by column: the n values of the first
column, then the second...), ``device_t_ns`` (list of int64 or null), ``meta`` (JSON text).

Compact, lossless encoding (both checked bit for bit on every frame before it is used, so what
is read back is exactly what was stored):

* Samples that are a sensor's 16-bit counts at one of :data:`COUNT_SCALES` (``value == count /
  scale`` for every value, in float64) are stored as ``counts`` with their ``scale``; column by
  column, so each axis is a slowly changing series that zstd compresses (about 1.6 bytes per
  value on the synthetic cohort, 7.5 as float64 lists). Anything else stays float64.
* Times equal to ``start_ns + round(i * 1e9 / fs_hz)`` (i = 0 .. n-1, as numpy rounds float64)
  are left out (``t_ns`` null) and rebuilt on reading; other times are stored.

To get the (n, k) samples of a row without this module: ``values`` reshaped to (n, k), or
``counts`` reshaped to (k, n), transposed, divided by ``scale``; ``t_ns`` or the grid above.
Archives written before the compact encoding (no ``n``/``scale``/``counts`` columns) read the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import posixpath
import stat
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import fsspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from adherence.plan import local_midnight_ns
from devices.errors import ConfigError, DataFileError
from devices.frame import Frame, StreamKind
from devices.mqtt_wire import DeviceEvent
from devices.programme import split_programme_events
from ingest.store import RepRecord, SessionRecord, SetRecord, Store

__all__ = [
    "ArchiveResult",
    "Target",
    "archive_store",
    "archived_subjects",
    "parquet_writer",
    "load_subject",
    "read_frames",
    "read_sessions",
]

ROW_GROUP_FRAMES = 64
"""Frames per Parquet row group (and per store read): bounds the memory of writers and readers
(64 frames of 60 s at 50 Hz: 6 MB of samples)."""
DICTIONARY_COLUMNS = ["device", "stream", "units", "meta"]
"""Columns worth dictionary encoding (the sample columns are not: it only costs memory)."""
NS_PER_S = 1_000_000_000

COLUMN_TYPES: dict[str, pa.DataType] = {
    # frames
    "device": pa.string(),
    "stream": pa.string(),
    "seq": pa.int64(),
    "fs_hz": pa.float64(),
    "units": pa.list_(pa.string()),
    "k": pa.int32(),
    "n": pa.int64(),
    "t_ns": pa.list_(pa.int64()),
    "values": pa.list_(pa.float64()),
    "scale": pa.float64(),
    "counts": pa.list_(pa.int16()),
    "device_t_ns": pa.list_(pa.int64()),
    "meta": pa.string(),
    # spans (UTC ns)
    "start_ns": pa.int64(),
    "end_ns": pa.int64(),
    "minute_ns": pa.int64(),
    # sessions, sets and repetitions
    "session_id": pa.string(),
    "exercise": pa.string(),
    "plan_entry": pa.string(),
    "source": pa.string(),
    "status": pa.string(),
    "sets": pa.string(),
    "set_index": pa.int64(),
    "rep_index": pa.int64(),
    "reps": pa.int64(),
    "duration_s": pa.float64(),
    "rom_deg": pa.float64(),
    # steps, days and scores
    "steps": pa.int64(),
    "cadence_spm": pa.float64(),
    "wear": pa.bool_(),
    "day": pa.string(),
    "wear_min": pa.int64(),
    "active_min": pa.int64(),
    "judgeable": pa.bool_(),
    "composite": pa.float64(),
    "detail": pa.string(),
}
"""The Arrow type of every column of the archive and of the derived tables, by name: a column
has one type (and one unit, in its name) wherever it appears."""


def columns_schema(*names: str) -> pa.Schema:
    """The schema of the columns ``names``, in that order, typed by :data:`COLUMN_TYPES`.

    >>> columns_schema("session_id", "start_ns").types
    [DataType(string), DataType(int64)]
    """
    return pa.schema([(name, COLUMN_TYPES[name]) for name in names])


FRAME_SCHEMA = columns_schema(
    *("device", "stream", "seq", "start_ns", "end_ns", "fs_hz", "units", "k", "n", "t_ns"),
    *("values", "scale", "counts", "device_t_ns", "meta"),
)
COUNT_SCALES: dict[str, tuple[float, ...]] = {
    "g": (4096.0, 2048.0, 8192.0, 16384.0, 1000.0),
    "deg/s": (16.4, 32.8, 65.6, 131.2, 262.4),
}
"""Counts per unit tried for the compact encoding, by unit (the first that fits is used): for
g, the 16-bit accelerometer ranges +-8, 16, 4 and 2 g (4096, 2048, 8192, 16384 counts/g, e.g.
Bosch BMI160 datasheet, table 3) and mG (Polar PMD); for deg/s, the gyroscope ranges +-2000,
1000, 500, 250 and 125 deg/s (16.4 ... 262.4 counts per deg/s, BMI160 datasheet, table 4)."""
INT16_MAX = 32767
SESSION_SCHEMA = columns_schema(
    *("session_id", "exercise", "start_ns", "end_ns", "plan_entry", "source", "status", "sets"),
    "meta",
)


@dataclass(frozen=True)
class ArchiveResult:
    """What :func:`archive_store` wrote: partitions (files), frames and sessions."""

    subjects: int
    files: int
    frames: int
    sessions: int


class Target:
    """A folder on an fsspec file system, written with temporary names, 0700/0600 when local.

    Parameters
    ----------
    url:
        A local path or an fsspec URL (``file://``, ``memory://``, ``s3://bucket/prefix``...).
    storage_options:
        Passed to the fsspec file system (credentials come from the driver's usual places).
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = url
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
        self.fs: fsspec.AbstractFileSystem = fs
        self.root: str = root.rstrip("/") or "/"
        self.local = isinstance(fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        """The file system path of ``parts`` under the root."""
        return posixpath.join(self.root, *parts)

    def makedirs(self, rel: str) -> None:
        """Create ``rel`` and its parents under the root (0700 when local)."""
        path = self.path(rel)
        self.fs.makedirs(path, exist_ok=True)
        if self.local:
            d = path
            while len(d) >= len(self.root):
                os.chmod(d, stat.S_IRWXU)
                if d == self.root:
                    break
                d = posixpath.dirname(d)

    def write(self, rel: str, fill: Callable[[Any], None]) -> None:
        """Write file ``rel`` by calling ``fill(fileobj)``; move it into place when complete."""
        self.makedirs(posixpath.dirname(rel))
        final = self.path(rel)
        tmp = f"{final}.tmp-{uuid.uuid4().hex}"
        try:
            with self.fs.open(tmp, "wb") as f:
                fill(f)
            if self.local:
                os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
            self.fs.mv(tmp, final)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def ls(self, rel: str) -> list[str]:
        """Names (not paths) of the entries of folder ``rel``, sorted; empty if missing."""
        path = self.path(rel)
        if not self.fs.isdir(path):
            return []
        return sorted(posixpath.basename(p.rstrip("/")) for p in self.fs.ls(path, detail=False))

    def open(self, rel: str) -> Any:
        """Open file ``rel`` for reading (binary)."""
        return self.fs.open(self.path(rel), "rb")


DEFAULT_SOURCE = "main"
"""Source name of a store archived without ``--source``."""


def parquet_writer(table: pa.Table) -> Callable[[Any], None]:
    """A ``fill`` for :meth:`Target.write` that writes ``table`` as one Parquet file (zstd)."""

    def fill(f: Any) -> None:
        pq.write_table(table, f, compression="zstd")

    return fill


def part_name(*key: str) -> str:
    """Deterministic file name of a partition: ``part-<16 hex of sha256(key)>.parquet``."""
    digest = hashlib.sha256("/".join(key).encode()).hexdigest()[:16]
    return f"part-{digest}.parquet"


def subject_dir(subject: str) -> str:
    """The hive partition folder of a subject (``subject=<id>``, URI-escaped)."""
    return f"subject={quote(subject, safe='')}"


def _grid_ns(start_ns: int, n: int, fs_hz: float) -> npt.NDArray[np.int64]:
    """A frame's nominal sample times: ``start_ns + round(i * 1e9 / fs_hz)``, UTC ns."""
    return start_ns + np.round(np.arange(n) * (NS_PER_S / fs_hz)).astype(np.int64)


def _on_grid(f: Frame) -> bool:
    """True when the frame's times are its nominal grid (then they are not stored)."""
    if f.fs_hz is None or not np.isfinite(f.fs_hz) or f.fs_hz <= 0:
        return False
    return bool(np.array_equal(f.t_ns, _grid_ns(f.start_ns, f.n, f.fs_hz)))


def _counts(f: Frame) -> tuple[float, npt.NDArray[np.int16]] | None:
    """(scale, counts column by column) when the frame's samples are 16-bit counts at one of
    :data:`COUNT_SCALES` for its unit, exactly (bit for bit after decoding); else None."""
    units = set(f.units)
    if len(units) != 1 or f.n == 0:
        return None
    v = f.values.T  # (k, n): column by column
    for scale in COUNT_SCALES.get(units.pop(), ()):
        c = np.rint(v * scale)
        if not np.all(np.abs(c) <= INT16_MAX):  # also refuses NaN and infinities
            continue
        counts = c.astype(np.int16)
        back = counts.astype(np.float64) / scale
        if np.array_equal(back.view(np.int64), np.ascontiguousarray(v).view(np.int64)):
            return scale, counts.ravel()
    return None


def _list_array(
    pieces: Sequence[npt.NDArray[Any] | None], lengths: Sequence[int], dtype: pa.DataType
) -> pa.Array:
    """A list column from per-row arrays (None: a null row)."""
    valid = np.array([p is not None for p in pieces], dtype=bool)
    sizes = np.array([n if p is not None else 0 for p, n in zip(pieces, lengths, strict=True)])
    off = np.r_[0, np.cumsum(sizes)].astype(np.int32)
    kept = [p for p in pieces if p is not None]
    flat = np.concatenate(kept) if kept else np.empty(0, dtype.to_pandas_dtype())
    return pa.ListArray.from_arrays(pa.array(off), pa.array(flat, dtype), mask=pa.array(~valid))


def _frames_table(frames: Sequence[Frame]) -> pa.Table:
    n = [f.n for f in frames]
    k = [f.values.shape[1] for f in frames]
    times = [None if _on_grid(f) else f.t_ns for f in frames]
    packed = [_counts(f) for f in frames]
    nk = [a * b for a, b in zip(n, k, strict=True)]
    cols = {
        "device": pa.array([f.device for f in frames], pa.string()),
        "stream": pa.array([f.stream.value for f in frames], pa.string()),
        "seq": pa.array([f.seq for f in frames], pa.int64()),
        "start_ns": pa.array([f.start_ns for f in frames], pa.int64()),
        "end_ns": pa.array([f.end_ns for f in frames], pa.int64()),
        "fs_hz": pa.array([f.fs_hz for f in frames], pa.float64()),
        "units": pa.array([list(f.units) for f in frames], pa.list_(pa.string())),
        "k": pa.array(k, pa.int32()),
        "n": pa.array(n, pa.int64()),
        "t_ns": _list_array(times, n, pa.int64()),
        "values": _list_array(
            [f.values.ravel() if p is None else None for f, p in zip(frames, packed, strict=True)],
            nk,
            pa.float64(),
        ),
        "scale": pa.array([None if p is None else p[0] for p in packed], pa.float64()),
        "counts": _list_array([None if p is None else p[1] for p in packed], nk, pa.int16()),
        "device_t_ns": _list_array([f.device_t_ns for f in frames], n, pa.int64()),
        "meta": pa.array([json.dumps(f.meta, sort_keys=True) for f in frames], pa.string()),
    }
    return pa.table(cols, schema=FRAME_SCHEMA)


class _Lists:
    """One list column of a row group as flat numpy values, offsets and validity."""

    def __init__(self, table: pa.Table, name: str) -> None:
        if name not in table.column_names:  # an archive written before the column existed
            self.valid = np.zeros(table.num_rows, dtype=bool)
            self.flat: npt.NDArray[Any] = np.empty(0)
            self.off = np.zeros(table.num_rows + 1, dtype=np.int64)
            return
        arr = table.column(name).combine_chunks()
        self.flat = arr.values.to_numpy(zero_copy_only=False)
        self.off = arr.offsets.to_numpy()
        self.valid = arr.is_valid().to_numpy(zero_copy_only=False)

    def row(self, i: int) -> npt.NDArray[Any] | None:
        """Row ``i``'s values, or None when it is null."""
        return self.flat[self.off[i] : self.off[i + 1]] if self.valid[i] else None


def _samples(
    m: dict[str, Any], values: npt.NDArray[Any] | None, counts: npt.NDArray[Any] | None
) -> npt.NDArray[np.float64]:
    k = int(m["k"])
    if values is not None:
        return values.reshape(-1, k)
    if counts is None:  # a row our writer never makes: the file was damaged or hand-made
        why = f"frame {m['device']}/{m['stream']} seq {m['seq']} has neither values nor counts"
        raise DataFileError("archive", why)
    return np.ascontiguousarray((counts.astype(np.float64) / m["scale"]).reshape(k, -1).T)


def _table_frames(subject: str, table: pa.Table) -> Iterator[Frame]:
    t, v, c, d = (_Lists(table, name) for name in ("t_ns", "values", "counts", "device_t_ns"))
    names = ["device", "stream", "seq", "start_ns", "fs_hz", "units", "k", "meta"]
    names += [x for x in ("scale",) if x in table.column_names]
    for i, m in enumerate(table.select(names).to_pylist()):
        t_ns = t.row(i)
        samples = _samples(m, v.row(i), c.row(i))
        yield Frame(
            subject=subject,
            device=m["device"],
            stream=StreamKind(m["stream"]),
            t_ns=_grid_ns(m["start_ns"], samples.shape[0], m["fs_hz"]) if t_ns is None else t_ns,
            values=samples,
            units=tuple(m["units"]),
            fs_hz=m["fs_hz"],
            seq=int(m["seq"]),
            device_t_ns=d.row(i),
            meta=json.loads(m["meta"]),
        )


def _local_dates(first_ns: int, last_ns: int, tz: ZoneInfo) -> list[dt.date]:
    d0 = dt.datetime.fromtimestamp(first_ns / NS_PER_S, tz=tz).date()
    d1 = dt.datetime.fromtimestamp(last_ns / NS_PER_S, tz=tz).date()
    return [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1)]


def _write_day(
    store: Store, target: Target, subject: str, day: dt.date, tz: ZoneInfo, source: str
) -> int:
    """Write one subject-day partition; return its number of frames (0: nothing written)."""
    lo = local_midnight_ns(day, tz)
    hi = local_midnight_ns(day + dt.timedelta(days=1), tz)
    batches = store.frame_batches(subject, start_ns=lo, end_ns=hi, batch_frames=ROW_GROUP_FRAMES)
    first = next(batches, None)
    if not first:
        return 0
    count = 0

    def fill(f: Any) -> None:
        nonlocal count
        with pq.ParquetWriter(
            f, FRAME_SCHEMA, compression="zstd", use_dictionary=DICTIONARY_COLUMNS
        ) as w:
            for batch in (first, *batches):
                w.write_table(_frames_table(batch), row_group_size=ROW_GROUP_FRAMES)
                count += len(batch)

    rel = posixpath.join("frames", subject_dir(subject), f"date={day.isoformat()}")
    target.write(posixpath.join(rel, part_name(subject, day.isoformat(), source)), fill)
    return count


def _sessions_table(sessions: Sequence[SessionRecord]) -> pa.Table:
    def sets_json(s: SessionRecord) -> str:
        return json.dumps(
            [
                [st.set_index, st.start_ns, st.end_ns, [list(r) for r in _rep_rows(st)]]
                for st in s.sets
            ]
        )

    rows = {
        "session_id": [s.session_id for s in sessions],
        "exercise": [s.exercise for s in sessions],
        "start_ns": [s.start_ns for s in sessions],
        "end_ns": [s.end_ns for s in sessions],
        "plan_entry": [s.plan_entry for s in sessions],
        "source": [s.source for s in sessions],
        "status": [s.status for s in sessions],
        "sets": [sets_json(s) for s in sessions],
        "meta": [json.dumps(s.meta, sort_keys=True) for s in sessions],
    }
    return pa.table(rows, schema=SESSION_SCHEMA)


def _rep_rows(st: SetRecord) -> list[tuple[int, int, float, float | None]]:
    return [(r.start_ns, r.end_ns, r.duration_s, r.rom_deg) for r in st.reps]


def archive_store(
    store: Store,
    time_zones: Mapping[str, ZoneInfo],
    url: str,
    *,
    subjects: Sequence[str] | None = None,
    source: str = DEFAULT_SOURCE,
    storage_options: Mapping[str, Any] | None = None,
    on_subject: Callable[[str], None] | None = None,
) -> ArchiveResult:
    """Write ``store``'s frames and sessions to the Parquet archive at ``url``.

    Parameters
    ----------
    store:
        The store to read (read only).
    time_zones:
        Time zone of each subject (from the care plans): decides the local-date partitions.
    url:
        Archive root: a local folder or an fsspec URL.
    subjects:
        Only these subjects (default: every subject with frames or sessions in the store).
    source:
        Name of this store in the archive (one per gateway): part of every file name, so
        several stores archive into one dataset side by side; a frame stored by two gateways
        is in two files and is loaded once (its identity).
    storage_options:
        fsspec options for ``url``.
    on_subject:
        Called with each subject once it is archived (progress).

    Raises
    ------
    ConfigError
        A subject has no time zone (no care plan): named, nothing is written for anyone.
    """
    wanted = list(subjects) if subjects is not None else store.subjects()
    missing = sorted(s for s in wanted if s not in time_zones)
    if missing:
        raise ConfigError(
            "archive", "--plans", f"no care plan (time zone) for subject(s) {', '.join(missing)}"
        )
    target = Target(url, storage_options)
    target.makedirs("")
    files = frames = sessions = 0
    for subject in wanted:
        tz = time_zones[subject]
        span = store.frame_start_range(subject)
        for day in _local_dates(*span, tz) if span else []:
            n = _write_day(store, target, subject, day, tz, source)
            frames += n
            files += n > 0
        stored = store.sessions(subject)
        if stored:
            table = _sessions_table(stored)
            target.write(
                posixpath.join("sessions", subject_dir(subject), part_name(subject, source)),
                parquet_writer(table),
            )
            files += 1
            sessions += len(stored)
        files += _write_events(store, target, subject, source)
        if on_subject is not None:
            on_subject(subject)
    return ArchiveResult(len(wanted), files, frames, sessions)


_EVENT_COLUMNS = ("site", "device", "kind", "t_ns", "seq", "session_id", "exercise", "detail")


def _subject_events(store: Store, subject: str) -> list[DeviceEvent]:
    """The subject's MQTT events and programme events, as :class:`DeviceEvent` s, in order."""
    evs = list(store.events(subject=subject))
    evs += [e.to_device_event() for e in store.programme_events(subject)]
    return sorted(evs, key=lambda e: (e.t_ns, e.kind, e.device, e.seq, e.session_id or ""))


def _write_events(store: Store, target: Target, subject: str, source: str) -> int:
    """Write the subject's events file (returns 1), or nothing when it has none (0)."""
    evs = _subject_events(store, subject)
    if not evs:
        return 0
    cols: dict[str, list[Any]] = {c: [] for c in _EVENT_COLUMNS}
    for e in evs:
        for c in _EVENT_COLUMNS:
            v = getattr(e, c)
            cols[c].append(json.dumps(v, sort_keys=True) if c == "detail" else v)
    table = pa.table(
        {
            c: pa.array(v, type=pa.int64() if c in ("t_ns", "seq") else pa.string())
            for c, v in cols.items()
        }
    )
    rel = posixpath.join("events", subject_dir(subject), part_name(subject, source))
    target.write(rel, parquet_writer(table))
    return 1


def read_events(
    url: str, subject: str, storage_options: Mapping[str, Any] | None = None
) -> list[DeviceEvent]:
    """A subject's archived events (MQTT and programme events) as :class:`DeviceEvent` s."""
    target = Target(url, storage_options)
    base = posixpath.join("events", subject_dir(subject))
    out: list[DeviceEvent] = []
    for name in target.ls(base):
        if name.endswith(".parquet"):
            with target.open(posixpath.join(base, name)) as f:
                for r in pq.read_table(f).to_pylist():
                    r["detail"] = json.loads(r["detail"])
                    out.append(DeviceEvent(subject=subject, **r))
    return out


def archived_subjects(url: str, storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """Subjects with frames or sessions in the archive at ``url``, sorted."""
    target = Target(url, storage_options)
    names = set(target.ls("frames")) | set(target.ls("sessions"))
    return sorted(unquote(n.split("=", 1)[1]) for n in names if n.startswith("subject="))


def read_frames(
    url: str, subject: str, storage_options: Mapping[str, Any] | None = None
) -> Iterator[list[Frame]]:
    """Yield a subject's archived frames, one Parquet row group (a list of frames) at a time,
    by local day then (start_ns, device, stream, seq)."""
    target = Target(url, storage_options)
    base = posixpath.join("frames", subject_dir(subject))
    for day_dir in target.ls(base):
        for name in target.ls(posixpath.join(base, day_dir)):
            if not name.endswith(".parquet"):
                continue  # a temporary file of a writer that died
            rel = posixpath.join(base, day_dir, name)
            try:
                with target.open(rel) as f:
                    pf = pq.ParquetFile(f, pre_buffer=False)
                    for i in range(pf.num_row_groups):
                        yield list(_table_frames(subject, pf.read_row_group(i)))
            except (OSError, pa.ArrowInvalid) as exc:
                raise DataFileError(target.path(rel), f"unreadable archive file: {exc}") from exc


def read_sessions(
    url: str, subject: str, storage_options: Mapping[str, Any] | None = None
) -> list[SessionRecord]:
    """A subject's archived sessions (with their sets and repetitions as stored)."""
    target = Target(url, storage_options)
    base = posixpath.join("sessions", subject_dir(subject))
    rows: list[dict[str, Any]] = []
    for name in target.ls(base):
        if name.endswith(".parquet"):
            with target.open(posixpath.join(base, name)) as f:
                rows.extend(pq.read_table(f).to_pylist())
    # one row per session id: a session archived by several sources is the same session
    rows = list({r["session_id"]: r for r in sorted(rows, key=lambda r: r["session_id"])}.values())
    out = []
    for r in rows:
        sets = tuple(
            SetRecord(i, a, b, tuple(RepRecord(*rep) for rep in reps))
            for i, a, b, reps in json.loads(r["sets"])
        )
        out.append(
            SessionRecord(
                r["session_id"],
                subject,
                r["exercise"],
                r["start_ns"],
                r["end_ns"],
                r["plan_entry"],
                r["source"],
                r["status"],
                sets,
                json.loads(r["meta"]),
            )
        )
    return out


def load_subject(
    store: Store,
    url: str,
    subject: str,
    storage_options: Mapping[str, Any] | None = None,
    *,
    sessions: bool = True,
) -> tuple[int, int]:
    """Load a subject's archived frames and events (and, with ``sessions``, its sessions) into
    ``store``; return (new frames, sessions). Frames and events already stored are skipped."""
    new = 0
    batches = read_frames(url, subject, storage_options)
    more = True
    while more:
        more = False
        with store.transaction():  # one commit per 16 row groups, one row group in memory
            for _, b in zip(range(16), batches, strict=False):
                new += store.put_frames(b)
                more = True
    programme, events = split_programme_events(read_events(url, subject, storage_options))
    with store.transaction():  # the app's events: an event stored by two gateways is kept once
        store.put_events(events)
        store.put_programme_events(programme)
    if not sessions:
        return new, 0
    stored = read_sessions(url, subject, storage_options)
    with store.transaction():
        for s in stored:
            store.put_session(s)
    return new, len(stored)
