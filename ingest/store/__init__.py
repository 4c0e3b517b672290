"""The embedded local store: one SQLite file in WAL mode.

Why SQLite: it ships with Python, needs no server (the demo runs anywhere), gives ACID
transactions across processes on one host, survives ``SIGKILL`` of a writer (the WAL is replayed
on the next open), and is read directly by pandas, R and DuckDB. ``synchronous=FULL`` fsyncs
every commit, so a commit that returned is on disk; collectors acknowledge a broker message only
after that commit.

Tables
------
``frames``         raw sample frames; unique on (subject, device, stream, seq, start_ns), so
                   storing the same frame twice stores it once (``INSERT OR IGNORE``).
``gaps``           dropped notifications / missing sequence ranges seen by collectors.
``steps_minute``   steps, cadence and wear per subject and UTC minute.
``walking_bouts``  bouts of walking.
``sessions``, ``exercise_sets``, ``repetitions``  exercise sessions with sets and repetitions.
``daily_summary``  per subject and local day: steps, wear, active minutes, judgeable flag.
``scores``         adherence scores per subject and day (JSON detail with flags and reasons).
``dead_letter``    inputs that could not be accepted, with the reason; never silently dropped.
``outbox``         points waiting for an external sink (InfluxDB), oldest first.
``mqtt_events``    session start/stop events and device status changes from MQTT; unique on
                   (device, kind, t_ns, seq, session_id), so a redelivery adds nothing.
``programme_events`` the patient app's programme events (education, CBT, mindfulness, coaching,
                   posts, pain NRS, PEG); unique on (subject, event_id). Added after schema
                   version 1 with ``CREATE TABLE IF NOT EXISTS``, run on every open.

All timestamps are integer UTC nanoseconds.

Which files are ours
--------------------
The file header carries ``PRAGMA application_id`` = :data:`APPLICATION_ID` and ``PRAGMA
user_version`` = :data:`SCHEMA_VERSION` (SQLite file format, "Database Header", offsets 60 and
68: https://www.sqlite.org/fileformat.html#the_database_header). A file with another
application id, or an SQLite file with tables but no id, is refused untouched; a missing file is
created only with ``create=True`` (collectors and ``demo``), so a typo in a read command's
``--store`` is an error, not an empty store. Version 1 files (no id, written before the id
existed) are recognised by their tables and migrated in place, one step per version
(:data:`_MIGRATIONS`). The file and its ``-wal``/``-shm`` companions are 0600, new folders 0700
(SQLite gives the companions the database file's mode).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from devices.files import private_file
from devices.frame import Frame, StreamKind
from devices.mqtt_wire import DeviceEvent
from devices.programme import ProgrammeEvent
from ingest.errors import StoreError
from ingest.store.reads import (
    BoutRow,
    DailyRow,
    DeviceStreamRow,
    MinuteRow,
    RepetitionRow,
    SessionSummaryRow,
    SetRow,
    StoreReads,
    SummaryRow,
)

__all__ = [
    "SCHEMA_VERSION",
    "BoutRow",
    "DailyRow",
    "DeadLetter",
    "DeviceStreamRow",
    "Gap",
    "MinuteRow",
    "OutboxItem",
    "RepRecord",
    "RepetitionRow",
    "SessionRecord",
    "SessionSummaryRow",
    "SetRecord",
    "SetRow",
    "Store",
    "StoreReads",
    "SummaryRow",
]

SCHEMA_VERSION = 2
APPLICATION_ID = 0x41444831
"""``PRAGMA application_id`` of an adherence store (ASCII "ADH1")."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    device TEXT NOT NULL,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    n INTEGER NOT NULL,
    k INTEGER NOT NULL,
    fs_hz REAL,
    units TEXT NOT NULL,
    t_ns BLOB NOT NULL,
    vals BLOB NOT NULL,
    device_t_ns BLOB,
    meta TEXT NOT NULL DEFAULT '{}',
    stored_ns INTEGER NOT NULL,
    UNIQUE (subject, device, stream, seq, start_ns)
);
CREATE INDEX IF NOT EXISTS frames_by_time ON frames (subject, stream, start_ns);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    subject TEXT,
    device TEXT NOT NULL,
    stream TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (device, stream, start_ns, end_ns)
);
CREATE TABLE IF NOT EXISTS steps_minute (
    subject TEXT NOT NULL,
    minute_ns INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    cadence_spm REAL,
    wear INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (subject, minute_ns)
);
CREATE TABLE IF NOT EXISTS walking_bouts (
    subject TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    cadence_spm REAL,
    PRIMARY KEY (subject, start_ns)
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    exercise TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    plan_entry TEXT,
    source TEXT NOT NULL DEFAULT 'batch',
    status TEXT NOT NULL DEFAULT 'complete',
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS sessions_by_subject ON sessions (subject, start_ns);
CREATE TABLE IF NOT EXISTS exercise_sets (
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    set_index INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    reps INTEGER NOT NULL,
    PRIMARY KEY (session_id, set_index)
);
CREATE TABLE IF NOT EXISTS repetitions (
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    set_index INTEGER NOT NULL,
    rep_index INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    rom_deg REAL,
    PRIMARY KEY (session_id, set_index, rep_index)
);
CREATE TABLE IF NOT EXISTS daily_summary (
    subject TEXT NOT NULL,
    day TEXT NOT NULL,
    steps INTEGER NOT NULL,
    wear_min INTEGER NOT NULL,
    active_min INTEGER NOT NULL,
    judgeable INTEGER NOT NULL,
    PRIMARY KEY (subject, day)
);
CREATE TABLE IF NOT EXISTS scores (
    subject TEXT NOT NULL,
    day TEXT NOT NULL,
    composite REAL,
    detail TEXT NOT NULL,
    computed_ns INTEGER NOT NULL,
    PRIMARY KEY (subject, day)
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY,
    received_ns INTEGER NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB,
    context TEXT NOT NULL DEFAULT '{}',
    ident TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letter_ident ON dead_letter (ident);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_by_sink ON outbox (sink, id);
CREATE TABLE IF NOT EXISTS mqtt_events (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    subject TEXT NOT NULL,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    t_ns INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    session_id TEXT NOT NULL DEFAULT '',
    exercise TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    UNIQUE (device, kind, t_ns, seq, session_id)
);
CREATE INDEX IF NOT EXISTS mqtt_events_by_subject ON mqtt_events (subject, t_ns);
"""

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1 -> 2: the MQTT events table joins the schema (files written by the collector already
    # have it, made by the old ingest/mqtt_events.py: IF NOT EXISTS); dead letters get an
    # identity so that one redelivered after a crash is stored once.
    1: (
        _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS mqtt_events") :].split(";")[0],
        "CREATE INDEX IF NOT EXISTS mqtt_events_by_subject ON mqtt_events (subject, t_ns)",
        "ALTER TABLE dead_letter ADD COLUMN ident TEXT",
        "CREATE UNIQUE INDEX IF NOT EXISTS dead_letter_ident ON dead_letter (ident)",
    ),
}
"""Statements taking a file from version ``key`` to ``key + 1``."""
_V1_TABLES = frozenset({"frames", "gaps", "sessions", "dead_letter", "outbox"})
# Tables added after schema version 1: created if missing on every open (a new table needs no
# migration of existing rows, so the schema version stays 1).
_ADDED_SCHEMA = """
CREATE TABLE IF NOT EXISTS programme_events (
    subject TEXT NOT NULL,
    event_id TEXT NOT NULL,
    site TEXT NOT NULL,
    device TEXT NOT NULL,
    event TEXT NOT NULL,
    t_ns INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    item_id TEXT,
    module_id TEXT,
    minutes REAL,
    channel TEXT,
    by_whom TEXT,
    nrs REAL,
    peg_pain REAL,
    peg_enjoyment REAL,
    peg_activity REAL,
    stored_ns INTEGER NOT NULL,
    PRIMARY KEY (subject, event_id)
);
CREATE INDEX IF NOT EXISTS programme_events_by_time ON programme_events (subject, t_ns);
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter record: an input that was refused, with the reason."""

    id: int
    received_ns: int
    source: str
    reason: str
    payload: bytes | None
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending write for an external sink (``body`` is InfluxDB line protocol)."""

    id: int
    sink: str
    created_ns: int
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of a stream with missing data (UTC ns), and why."""

    subject: str | None
    device: str
    stream: str
    start_ns: int
    end_ns: int
    reason: str


def _now_ns() -> int:
    return time.time_ns()


def _and_where(conditions: Iterable[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """``" AND cond"`` for each (condition, value) whose value is not None, and the values."""
    used = [(c, v) for c, v in conditions if v is not None]
    return "".join(f" AND {c}" for c, _ in used), [v for _, v in used]


class Store(StoreReads):
    """The embedded store: a single SQLite file (WAL mode, ``synchronous=FULL``).

    Read queries for derivation, scoring, reports and exports come from
    :class:`ingest.store.reads.StoreReads` and return typed rows.

    One :class:`Store` object may be shared between threads (calls are serialised by a lock);
    several processes may open the same file at once (SQLite serialises their writes).

    Parameters
    ----------
    path:
        File path; parent folders are created.
    timeout_s:
        How long a writer waits for another process's write lock, in seconds.
    durable:
        True (default): every commit is on disk before it returns (``PRAGMA synchronous=FULL``).
        False: commits are not flushed to disk (``synchronous=OFF``) and the rollback journal
        stays in memory (``journal_mode=MEMORY``, not WAL: each page is written once), about
        twice as fast to fill; only for a scratch store that one process fills, reads and
        throws away (cohort reprocessing's per-subject store), since a crash can lose or
        corrupt it (https://www.sqlite.org/pragma.html#pragma_synchronous,
        https://www.sqlite.org/pragma.html#pragma_journal_mode).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout_s: float = 30.0,
        create: bool = True,
        durable: bool = True,
    ) -> None:
        self.path = Path(path)
        existed = self.path.exists()
        if not existed and not create:
            raise StoreError("store", str(self.path), "no store at this path (missing file)")
        if existed and not self.path.is_file():
            raise StoreError("store", str(self.path), "not a file")
        try:
            if not existed:
                private_file(self.path)  # 0600 in 0700 folders before SQLite writes a byte
            self._db = sqlite3.connect(
                str(self.path), timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._tx():
                self._init_schema(create)
            private_file(self.path)  # ours: narrow a copy made 0644 by hand
            # a scratch store keeps its rollback journal in memory: every page is written once
            self._db.execute(f"PRAGMA journal_mode={'WAL' if durable else 'MEMORY'}")
        except sqlite3.DatabaseError as exc:
            raise StoreError("store", str(self.path), f"cannot open: {exc}") from exc
        except StoreError:
            self._db.close()
            raise
        self._lock = threading.RLock()
        self._depth = 0

    def _init_schema(self, create: bool) -> None:
        """Check the file is ours, then create or migrate its schema (inside a transaction)."""
        app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        legacy = app_id == 0 and version == 1 and tables >= _V1_TABLES
        if app_id != APPLICATION_ID and not legacy:
            self._refuse(app_id, version, tables, create)
            version = 0
        if version > SCHEMA_VERSION:
            why = f"schema version {version} is newer than this program ({SCHEMA_VERSION})"
            raise StoreError("store", str(self.path), why)
        if version == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            version = SCHEMA_VERSION
        for step in range(max(version, 1), SCHEMA_VERSION):
            for statement in _MIGRATIONS[step]:
                self._db.execute(statement)
        for statement in _ADDED_SCHEMA.split(";"):  # tables that need no migration of rows
            if statement.strip():
                self._db.execute(statement)
        self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _refuse(self, app_id: int, version: int, tables: set[str], create: bool) -> None:
        """Raise unless the file is an empty SQLite file that may be made a store."""
        if app_id != 0:
            why = f"not an adherence store: SQLite application_id {app_id:#x}, ours {APPLICATION_ID:#x}"
            raise StoreError("store", str(self.path), why)
        if tables or version:
            shown = ", ".join(sorted(tables)[:5]) or "none"
            why = f"not an adherence store: an SQLite file of another program (tables: {shown})"
            raise StoreError("store", str(self.path), why)
        if not create:
            raise StoreError("store", str(self.path), "not an adherence store: an empty file")

    # -- plumbing -------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group several writes into one atomic, durable commit.

        Nested use joins the outer transaction. Everything written inside is committed together
        or not at all.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                with self._tx():
                    yield self
            finally:
                self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only SQL statement and return all rows.

        Not for new code: callers use the typed methods (:class:`StoreReads` and the ones
        below). Kept while ``ingest.mqtt``/``ingest.mqtt_events`` and a few tests still call it.
        """
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only SQL statement of this package and return all rows."""
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def close(self) -> None:
        """Close the file (checkpointing the WAL)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ---------------------------------------------------------------------------
    def put_frames(self, frames: Iterable[Frame]) -> int:
        """Store frames in one transaction; return how many were new.

        A frame whose identity (subject, device, stream, seq, first timestamp) is already
        stored is skipped, so replays and redeliveries are harmless.
        """
        now = _now_ns()
        rows = [
            (
                f.subject,
                f.device,
                f.stream.value,
                f.seq,
                f.start_ns,
                f.end_ns,
                f.n,
                f.values.shape[1],
                f.fs_hz,
                json.dumps(list(f.units)),
                f.t_ns.astype("<i8").tobytes(),
                f.values.astype("<f8").tobytes(),
                None if f.device_t_ns is None else f.device_t_ns.astype("<i8").tobytes(),
                json.dumps(f.meta, sort_keys=True),
                now,
            )
            for f in frames
        ]
        return self._insert_new(
            "INSERT OR IGNORE INTO frames (subject, device, stream, seq, start_ns, end_ns, n, k,"
            " fs_hz, units, t_ns, vals, device_t_ns, meta, stored_ns)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def _insert_new(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run an ``INSERT OR IGNORE`` for ``rows`` in one transaction (joining an open one);
        return how many rows were new."""
        if not rows:
            return 0
        with self.transaction():
            before = self._db.total_changes
            self._db.executemany(sql, rows)
            return self._db.total_changes - before

    def has_frame(self, device: str, stream: str, seq: int) -> bool:
        """True if a frame with this device, stream and sequence number is stored."""
        row = self.execute(
            "SELECT 1 FROM frames WHERE device=? AND stream=? AND seq=? LIMIT 1",
            (device, stream, seq),
        )
        return bool(row)

    def frames(
        self,
        *,
        subject: str | None = None,
        device: str | None = None,
        stream: StreamKind | str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> Iterator[Frame]:
        """Yield stored frames in time order, filtered by the given fields.

        ``start_ns``/``end_ns`` select frames overlapping [start_ns, end_ns).
        """
        where, params = _frame_where(
            (("subject", subject), ("device", device), ("stream", stream)), start_ns, end_ns
        )
        sql = f"SELECT {_FRAME_COLUMNS} FROM frames"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_ns, device, seq"
        for row in self.execute(sql, params):
            yield _row_frame(row)

    def read_stream(
        self,
        subject: str,
        stream: StreamKind | str,
        *,
        device: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Concatenate a stream's samples in time order: ``(t_ns (N,), values (N, k))``.

        Samples repeated by overlapping frames are kept once (by timestamp).

        Reads only the frames' times and samples (the frames were validated when stored, so
        they are not made into :class:`Frame` objects again); samples already in strictly
        increasing time order, the usual case, are neither sorted nor copied to drop repeats.
        """
        where, params = _frame_where(
            (("subject", subject), ("device", device), ("stream", stream)), start_ns, end_ns
        )
        rows = self._query(
            "SELECT t_ns, vals, n, k FROM frames WHERE "
            + " AND ".join(where)
            + " ORDER BY start_ns, device, seq",
            params,
        )
        ts = [np.frombuffer(tb, dtype="<i8") for tb, _, _, _ in rows]
        vs = [np.frombuffer(vb, dtype="<f8").reshape(n, k) for _, vb, n, k in rows]
        if not ts:
            k = 1
            try:
                from devices.frame import STREAM_SPECS

                k = STREAM_SPECS[StreamKind(stream)][0]
            except ValueError:
                pass
            return np.empty(0, np.int64), np.empty((0, k), np.float64)
        t = np.concatenate(ts).astype(np.int64, copy=False)
        v = np.concatenate(vs).astype(np.float64, copy=False)
        if not bool(np.all(t[1:] > t[:-1])):
            order = np.argsort(t, kind="stable")
            t, v = t[order], v[order]
            keep = np.ones(t.size, bool)
            keep[1:] = np.diff(t) != 0
            t, v = t[keep], v[keep]
        # t is strictly increasing now: the window is one slice
        i0 = 0 if start_ns is None else int(np.searchsorted(t, start_ns, side="left"))
        i1 = t.size if end_ns is None else int(np.searchsorted(t, end_ns, side="left"))
        return t[i0:i1], v[i0:i1]

    def subjects(self) -> list[str]:
        """All subject ids with frames, sessions or summaries, sorted."""
        rows = self.execute(
            "SELECT subject FROM frames UNION SELECT subject FROM sessions"
            " UNION SELECT subject FROM daily_summary ORDER BY 1"
        )
        return [r[0] for r in rows]

    def count(self, table: str) -> int:
        """Number of rows in ``table`` (one of this store's tables)."""
        if table not in _TABLES:
            raise StoreError("table", table, f"unknown table; known: {sorted(_TABLES)}")
        return int(self.execute(f"SELECT COUNT(*) FROM {table}")[0][0])

    # -- gaps -----------------------------------------------------------------------------
    def put_gap(
        self,
        device: str,
        stream: str,
        start_ns: int,
        end_ns: int,
        reason: str,
        *,
        subject: str | None = None,
    ) -> None:
        """Record a stretch [start_ns, end_ns] of a stream with missing data (idempotent)."""
        with self.transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO gaps (subject, device, stream, start_ns, end_ns, reason)"
                " VALUES (?,?,?,?,?,?)",
                (subject, device, str(stream), int(start_ns), int(end_ns), reason),
            )

    def gaps(self, *, device: str | None = None, subject: str | None = None) -> list[Gap]:
        """Recorded gaps in time order."""
        sql = "SELECT subject, device, stream, start_ns, end_ns, reason FROM gaps WHERE 1=1"
        cond, params = _and_where((("device=?", device), ("subject=?", subject)))
        return [Gap(*r) for r in self.execute(sql + cond + " ORDER BY start_ns", params)]

    # -- dead letters ---------------------------------------------------------------------
    def dead_letter(
        self,
        source: str,
        reason: str,
        payload: bytes | str | None = None,
        context: dict[str, Any] | None = None,
        *,
        ident: str | None = None,
    ) -> int:
        """Keep a refused input with the reason why; return its id (0 if already kept).

        ``source`` names where it came from (``"mqtt:topic"``, ``"ble:2A37"``, ``"file:path"``).
        ``ident`` is the input's identity (e.g. a hash of source, payload and broker message
        identity): a second record with the same ``ident`` is not stored, so an input
        redelivered after a crash between commit and acknowledgement is kept once.
        """
        body = payload.encode() if isinstance(payload, str) else payload
        with self.transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO dead_letter"
                " (received_ns, source, reason, payload, context, ident) VALUES (?,?,?,?,?,?)",
                (
                    _now_ns(),
                    source,
                    reason,
                    body,
                    json.dumps(context or {}, default=repr),
                    ident,
                ),
            )
            return int(cur.lastrowid or 0) if cur.rowcount else 0

    def dead_letters(self, source_prefix: str = "") -> list[DeadLetter]:
        """Dead-letter records whose source starts with ``source_prefix``, oldest first."""
        rows = self.execute(
            "SELECT id, received_ns, source, reason, payload, context FROM dead_letter"
            " WHERE source LIKE ? ORDER BY id",
            (source_prefix.replace("%", r"\%") + "%",),
        )
        return [DeadLetter(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    # -- MQTT events ------------------------------------------------------------------------
    def put_events(self, events: Iterable[DeviceEvent]) -> int:
        """Store session/status events (joining an open transaction); return how many were new.

        Times are UTC ns. An event already stored (same device, kind, t_ns, seq, session_id) is
        skipped.
        """
        rows = [
            (
                e.site,
                e.subject,
                e.device,
                e.kind,
                int(e.t_ns),
                int(e.seq),
                e.session_id or "",
                e.exercise,
                json.dumps(e.detail, sort_keys=True),
            )
            for e in events
        ]
        if not rows:
            return 0
        with self.transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO mqtt_events (site, subject, device, kind, t_ns, seq,"
                " session_id, exercise, detail) VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )
            return int(self._db.total_changes - before)

    def events(self, *, subject: str | None = None, kind: str | None = None) -> list[DeviceEvent]:
        """Stored MQTT events in time order (then seq), optionally for one subject and/or kind.

        ``kind`` is ``"session_start"``, ``"session_stop"`` or ``"status"``; times are UTC ns.
        """
        sql = (
            "SELECT site, subject, device, kind, t_ns, seq, session_id, exercise, detail"
            " FROM mqtt_events WHERE 1=1"
        )
        params: list[str] = []
        if subject is not None:
            sql += " AND subject=?"
            params.append(subject)
        if kind is not None:
            sql += " AND kind=?"
            params.append(kind)
        return [
            DeviceEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or None, r[7], json.loads(r[8]))
            for r in self.execute(sql + " ORDER BY t_ns, seq, id", params)
        ]

    def count_frame_seqs(
        self,
        subject: str,
        device: str,
        stream: str,
        seqs: tuple[int, int],
        span_ns: tuple[int, int],
    ) -> int:
        """Distinct sequence numbers in [seqs[0], seqs[1]) stored for a stream whose frames
        overlap the UTC ns span ``span_ns`` (how much of a hole another collector filled)."""
        rows = self.execute(
            "SELECT COUNT(DISTINCT seq) FROM frames WHERE subject=? AND device=? AND stream=?"
            " AND seq>=? AND seq<? AND end_ns>=? AND start_ns<=?",
            (subject, device, stream, seqs[0], seqs[1], span_ns[0], span_ns[1]),
        )
        return int(rows[0][0])

    # -- outbox ---------------------------------------------------------------------------
    def enqueue(self, sink: str, bodies: Iterable[str]) -> int:
        """Append line-protocol bodies for ``sink`` to the durable outbox; return the count."""
        now = _now_ns()
        rows = [(sink, now, b) for b in bodies]
        if rows:
            with self.transaction():
                self._db.executemany(
                    "INSERT INTO outbox (sink, created_ns, body) VALUES (?,?,?)", rows
                )
        return len(rows)

    def outbox_peek(self, sink: str, limit: int = 500) -> list[OutboxItem]:
        """The oldest ``limit`` pending items for ``sink``."""
        rows = self.execute(
            "SELECT id, sink, created_ns, body, attempts FROM outbox WHERE sink=? ORDER BY id LIMIT ?",
            (sink, int(limit)),
        )
        return [OutboxItem(*r) for r in rows]

    def outbox_size(self, sink: str | None = None) -> int:
        """Number of pending outbox items (for one sink, or all)."""
        if sink is None:
            return int(self.execute("SELECT COUNT(*) FROM outbox")[0][0])
        return int(self.execute("SELECT COUNT(*) FROM outbox WHERE sink=?", (sink,))[0][0])

    def outbox_done(self, ids: Sequence[int]) -> None:
        """Delete delivered items (call only after the sink answered 2xx)."""
        with self.transaction():
            self._db.executemany("DELETE FROM outbox WHERE id=?", [(int(i),) for i in ids])

    def outbox_failed(self, ids: Sequence[int], error: str) -> None:
        """Count a failed attempt for items that will be retried."""
        with self.transaction():
            self._db.executemany(
                "UPDATE outbox SET attempts=attempts+1, last_error=? WHERE id=?",
                [(error, int(i)) for i in ids],
            )

    def outbox_reject(self, ids: Sequence[int], reason: str) -> None:
        """Move items a sink refused permanently to the dead-letter table, atomically."""
        with self.transaction():
            for i in ids:
                row = self._db.execute(
                    "SELECT sink, body FROM outbox WHERE id=?", (int(i),)
                ).fetchone()
                if row is None:
                    continue
                self._db.execute(
                    "INSERT INTO dead_letter (received_ns, source, reason, payload, context)"
                    " VALUES (?,?,?,?,?)",
                    (_now_ns(), f"outbox:{row[0]}", reason, row[1].encode(), "{}"),
                )
                self._db.execute("DELETE FROM outbox WHERE id=?", (int(i),))

    # -- derived results ------------------------------------------------------------------
    def put_steps_minute(
        self, subject: str, rows: Iterable[tuple[int, int, float | None, bool]]
    ) -> None:
        """Upsert (minute_ns, steps, cadence_spm, wear) rows for ``subject``."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO steps_minute (subject, minute_ns, steps, cadence_spm, wear)"
                " VALUES (?,?,?,?,?)",
                [(subject, int(m), int(s), c, int(bool(w))) for m, s, c, w in rows],
            )

    def put_bouts(self, subject: str, rows: Iterable[tuple[int, int, int, float | None]]) -> None:
        """Upsert walking bouts (start_ns, end_ns, steps, cadence_spm) for ``subject``."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO walking_bouts (subject, start_ns, end_ns, steps, cadence_spm)"
                " VALUES (?,?,?,?,?)",
                [(subject, int(a), int(b), int(s), c) for a, b, s, c in rows],
            )

    def put_session(self, session: SessionRecord) -> None:
        """Store a session with its sets and repetitions, replacing an earlier version."""
        with self.transaction():
            self._db.execute("DELETE FROM sessions WHERE session_id=?", (session.session_id,))
            self._db.execute(
                "INSERT INTO sessions (session_id, subject, exercise, start_ns, end_ns, plan_entry,"
                " source, status, meta) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    session.session_id,
                    session.subject,
                    session.exercise,
                    session.start_ns,
                    session.end_ns,
                    session.plan_entry,
                    session.source,
                    session.status,
                    json.dumps(session.meta, sort_keys=True),
                ),
            )
            for s in session.sets:
                self._db.execute(
                    "INSERT INTO exercise_sets (session_id, set_index, start_ns, end_ns, reps)"
                    " VALUES (?,?,?,?,?)",
                    (session.session_id, s.set_index, s.start_ns, s.end_ns, len(s.reps)),
                )
                self._db.executemany(
                    "INSERT INTO repetitions (session_id, set_index, rep_index, start_ns, end_ns,"
                    " duration_s, rom_deg) VALUES (?,?,?,?,?,?,?)",
                    [
                        (
                            session.session_id,
                            s.set_index,
                            i,
                            r.start_ns,
                            r.end_ns,
                            r.duration_s,
                            r.rom_deg,
                        )
                        for i, r in enumerate(s.reps)
                    ],
                )

    def sessions(
        self, subject: str | None = None, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[SessionRecord]:
        """Stored sessions (with sets and repetitions), in start order."""
        sql = (
            "SELECT session_id, subject, exercise, start_ns, end_ns, plan_entry, source, status, meta"
            " FROM sessions WHERE 1=1"
        )
        cond, params = _and_where(
            (
                ("subject=?", subject),
                ("start_ns>=?", None if start_ns is None else int(start_ns)),
                ("start_ns<?", None if end_ns is None else int(end_ns)),
            )
        )
        out = []
        for r in self.execute(sql + cond + " ORDER BY start_ns, session_id", params):
            sets = []
            for sr in self.execute(
                "SELECT set_index, start_ns, end_ns FROM exercise_sets WHERE session_id=?"
                " ORDER BY set_index",
                (r[0],),
            ):
                reps = [
                    RepRecord(a, b, d, rom)
                    for a, b, d, rom in self.execute(
                        "SELECT start_ns, end_ns, duration_s, rom_deg FROM repetitions"
                        " WHERE session_id=? AND set_index=? ORDER BY rep_index",
                        (r[0], sr[0]),
                    )
                ]
                sets.append(SetRecord(sr[0], sr[1], sr[2], tuple(reps)))
            out.append(
                SessionRecord(
                    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(sets), json.loads(r[8])
                )
            )
        return out

    def session_subject(self, session_id: str) -> str | None:
        """The subject a stored session id belongs to, or None if no session has that id."""
        rows = self.execute("SELECT subject FROM sessions WHERE session_id=?", (session_id,))
        return str(rows[0][0]) if rows else None

    def put_daily_summary(
        self, subject: str, rows: Iterable[tuple[str, int, int, int, bool]]
    ) -> None:
        """Upsert (day 'YYYY-MM-DD', steps, wear_min, active_min, judgeable) rows."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO daily_summary (subject, day, steps, wear_min, active_min,"
                " judgeable) VALUES (?,?,?,?,?,?)",
                [(subject, d, int(s), int(w), int(a), int(bool(j))) for d, s, w, a, j in rows],
            )

    def put_score(
        self, subject: str, day: str, composite: float | None, detail: dict[str, Any]
    ) -> None:
        """Upsert one day's adherence score with its JSON detail (components, flags, reasons)."""
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO scores (subject, day, composite, detail, computed_ns)"
                " VALUES (?,?,?,?,?)",
                (
                    subject,
                    day,
                    composite,
                    json.dumps(detail, sort_keys=True, default=float),
                    _now_ns(),
                ),
            )

    def scores(
        self, subject: str | None = None
    ) -> list[tuple[str, str, float | None, dict[str, Any]]]:
        """Stored scores as (subject, day, composite, detail), by subject then day."""
        sql = "SELECT subject, day, composite, detail FROM scores"
        params: tuple[Any, ...] = ()
        if subject is not None:
            sql += " WHERE subject=?"
            params = (subject,)
        return [
            (a, b, c, json.loads(d)) for a, b, c, d in self.execute(sql + " ORDER BY 1, 2", params)
        ]

    def stream_devices(self, subject: str, stream: StreamKind | str) -> list[str]:
        """Devices that stored frames of ``stream`` for ``subject``, sorted."""
        rows = self.execute(
            "SELECT DISTINCT device FROM frames WHERE subject=? AND stream=? ORDER BY 1",
            (subject, str(stream)),
        )
        return [r[0] for r in rows]

    def delete_sessions(self, session_ids: Iterable[str]) -> int:
        """Delete sessions (with their sets and repetitions); returns how many were stored."""
        ids = list(session_ids)
        with self.transaction():
            n = 0
            for sid in ids:
                n += self._db.execute("DELETE FROM sessions WHERE session_id=?", (sid,)).rowcount
                self._db.execute("DELETE FROM exercise_sets WHERE session_id=?", (sid,))
                self._db.execute("DELETE FROM repetitions WHERE session_id=?", (sid,))
        return n

    # -- programme events (issue 17) ------------------------------------------------------
    def put_programme_events(self, events: Iterable[ProgrammeEvent]) -> int:
        """Store programme events in one transaction (joining an open one); return how many were new.

        Identity is (subject, event_id): an event replayed, redelivered or re-sent inside another
        message is stored once, and the first stored version is kept.
        """
        now = _now_ns()
        rows = [
            (
                e.subject,
                e.event_id,
                e.site,
                e.device,
                e.event,
                int(e.t_ns),
                int(e.seq),
                e.item_id,
                e.module_id,
                e.minutes,
                e.channel,
                e.by,
                e.nrs,
                *(e.peg_items if e.peg_items is not None else (None, None, None)),
                now,
            )
            for e in events
        ]
        return self._insert_new(
            "INSERT OR IGNORE INTO programme_events (subject, event_id, site, device, event,"
            " t_ns, seq, item_id, module_id, minutes, channel, by_whom, nrs, peg_pain,"
            " peg_enjoyment, peg_activity, stored_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def programme_events(
        self,
        subject: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[ProgrammeEvent]:
        """A subject's stored programme events with ``start_ns <= t_ns < end_ns`` (UTC ns).

        ``kinds`` keeps only those event kinds (``"pain"``, ``"education_completed"``, ...).
        In time order, then event id.
        """
        sql = (
            "SELECT site, subject, device, event_id, event, t_ns, seq, item_id, module_id, minutes,"
            " channel, by_whom, nrs, peg_pain, peg_enjoyment, peg_activity"
            " FROM programme_events WHERE subject=?"
        )
        params: list[Any] = [subject]
        if start_ns is not None:
            sql += " AND t_ns>=?"
            params.append(int(start_ns))
        if end_ns is not None:
            sql += " AND t_ns<?"
            params.append(int(end_ns))
        if kinds is not None:
            wanted = sorted(set(kinds))
            if not wanted:
                return []
            sql += f" AND event IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        out = []
        for r in self.execute(sql + " ORDER BY t_ns, event_id", params):
            peg = None if r[13] is None else (float(r[13]), float(r[14]), float(r[15]))
            site, subj, dev, eid, kind, t_ns, seq, item, module, minutes, channel, by, nrs = r[:13]
            out.append(
                ProgrammeEvent(
                    site,
                    subj,
                    dev,
                    eid,
                    kind,
                    t_ns,
                    seq,
                    item,
                    module,
                    minutes,
                    channel,
                    by,
                    nrs,
                    peg,
                )
            )
        return out

    # -- bulk reads for the archive and cohort reprocessing (issue 18) ---------------------
    def frame_start_range(self, subject: str) -> tuple[int, int] | None:
        """First and last frame start time of ``subject`` (UTC ns), or None without frames."""
        row = self.execute(
            "SELECT MIN(start_ns), MAX(start_ns) FROM frames WHERE subject=?", (subject,)
        )[0]
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def frame_batches(
        self,
        subject: str,
        *,
        stream: StreamKind | str | None = None,
        device: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        overlap: bool = False,
        batch_frames: int = 500,
    ) -> Iterator[list[Frame]]:
        """Yield a subject's frames in batches of ``batch_frames``, in (start_ns, device, stream,
        seq) order, without ever holding more than one batch in memory.

        With ``overlap=False`` a frame is selected when its first time is in [start_ns, end_ns)
        (each frame belongs to exactly one window: the archive's partitions); with
        ``overlap=True`` when it overlaps [start_ns, end_ns) (as :meth:`frames`). Each batch is
        one query (keyset pagination), so writers are never blocked for long.
        """
        where, params = _frame_where(
            (("subject", subject), ("stream", stream), ("device", device)),
            start_ns,
            end_ns,
            overlap=overlap,
        )
        sql = f"SELECT {_FRAME_COLUMNS}, start_ns FROM frames WHERE " + " AND ".join(where)
        key: tuple[int, str, str, int] | None = None
        while True:
            if key is None:
                rows = self.execute(
                    sql + " ORDER BY start_ns, device, stream, seq LIMIT ?",
                    [*params, int(batch_frames)],
                )
            else:
                rows = self.execute(
                    sql + " AND (start_ns, device, stream, seq) > (?, ?, ?, ?)"
                    " ORDER BY start_ns, device, stream, seq LIMIT ?",
                    [*params, *key, int(batch_frames)],
                )
            if not rows:
                return
            last = rows[-1]
            key = (int(last[12]), last[1], last[2], int(last[3]))
            yield [_row_frame(r[:12]) for r in rows]

    def frame_time_batches(
        self,
        subject: str,
        stream: StreamKind | str,
        device: str,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        batch_frames: int = 2000,
    ) -> Iterator[list[tuple[int, int, np.ndarray]]]:
        """Like :meth:`frame_batches` with ``overlap=True``, but only each frame's
        (start_ns, end_ns, t_ns) - a quarter of the bytes of a triaxial stream."""
        pages = self._stream_pages(
            "t_ns", (subject, stream, device), start_ns, end_ns, batch_frames
        )
        for rows in pages:
            yield [(int(a), int(b), np.frombuffer(t, dtype="<i8")) for a, b, t in rows]

    def frame_sample_batches(
        self,
        subject: str,
        stream: StreamKind | str,
        device: str,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        batch_frames: int = 64,
    ) -> Iterator[list[tuple[int, int, np.ndarray, np.ndarray]]]:
        """Like :meth:`frame_batches` with ``overlap=True`` for one stream of one device, but
        only each frame's (start_ns, end_ns, t_ns (n,), values (n, k)): the frames were
        validated when stored, and are not made into :class:`Frame` objects again. The
        arrays are read-only views of the stored bytes."""
        pages = self._stream_pages(
            "t_ns, vals, n, k", (subject, stream, device), start_ns, end_ns, batch_frames
        )
        for rows in pages:
            yield [
                (
                    int(a),
                    int(b),
                    np.frombuffer(t, dtype="<i8"),
                    np.frombuffer(v, dtype="<f8").reshape(n, k),
                )
                for a, b, t, v, n, k in rows
            ]

    def _stream_pages(
        self,
        columns: str,
        ids: tuple[str, StreamKind | str, str],
        start_ns: int | None,
        end_ns: int | None,
        batch_frames: int,
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Pages of at most ``batch_frames`` rows (start_ns, end_ns, then ``columns``) of the
        frames of one (subject, stream, device) overlapping [start_ns, end_ns) (UTC ns), in
        (start_ns, seq) order; each page resumes after the last row of the one before."""
        where, params = _frame_where(
            zip(("subject", "stream", "device"), ids, strict=True), start_ns, end_ns
        )
        sql = f"SELECT start_ns, end_ns, {columns}, seq FROM frames WHERE " + " AND ".join(where)
        key: tuple[int, int] | None = None
        while True:
            page = "" if key is None else " AND (start_ns, seq) > (?, ?)"
            rows = self._query(
                sql + page + " ORDER BY start_ns, seq LIMIT ?",
                [*params, *(key or ()), int(batch_frames)],
            )
            if not rows:
                return
            key = (int(rows[-1][0]), int(rows[-1][-1]))
            yield [r[:-1] for r in rows]

    def frame_identities(self) -> list[tuple[str, str, str, int, int]]:
        """Identity (subject, device, stream, seq, start_ns) of every stored frame, sorted."""
        rows = self.execute(
            "SELECT subject, device, stream, seq, start_ns FROM frames ORDER BY 1, 2, 3, 4, 5"
        )
        return [(a, b, c, int(d), int(e)) for a, b, c, d, e in rows]


_FRAME_COLUMNS = "subject, device, stream, seq, fs_hz, units, t_ns, vals, device_t_ns, meta, n, k"
"""The frames columns :func:`_row_frame` reads, in its order."""


def _frame_where(
    equal: Iterable[tuple[str, object]],
    start_ns: int | None,
    end_ns: int | None,
    *,
    overlap: bool = True,
) -> tuple[list[str], list[Any]]:
    """WHERE conditions and their values that select frames.

    Each ``(column, value)`` with a value not None keeps rows equal to ``str(value)``; the
    times (UTC ns) keep frames overlapping [start_ns, end_ns), or with ``overlap=False``
    those whose first time is in it.
    """
    where: list[str] = []
    params: list[Any] = []
    for col, val in equal:
        if val is not None:
            where.append(f"{col}=?")
            params.append(str(val))
    if start_ns is not None:
        where.append("end_ns>=?" if overlap else "start_ns>=?")
        params.append(int(start_ns))
    if end_ns is not None:
        where.append("start_ns<?")
        params.append(int(end_ns))
    return where, params


def _row_frame(row: Sequence[Any]) -> Frame:
    subj, dev, strm, seq, fs, units, tb, vb, db, meta, n, k = row
    return Frame(
        subject=subj,
        device=dev,
        stream=StreamKind(strm),
        t_ns=np.frombuffer(tb, dtype="<i8"),
        values=np.frombuffer(vb, dtype="<f8").reshape(n, k),
        units=tuple(json.loads(units)),
        fs_hz=fs,
        seq=seq,
        device_t_ns=None if db is None else np.frombuffer(db, dtype="<i8"),
        meta=json.loads(meta),
    )


@dataclass(frozen=True, slots=True)
class RepRecord:
    """One stored repetition: times in UTC ns, duration in s, range of motion in degrees."""

    start_ns: int
    end_ns: int
    duration_s: float
    rom_deg: float | None


@dataclass(frozen=True, slots=True)
class SetRecord:
    """One stored set of repetitions (``set_index`` from 0)."""

    set_index: int
    start_ns: int
    end_ns: int
    reps: tuple[RepRecord, ...]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One stored exercise session. ``exercise`` is an exercise-library id."""

    session_id: str
    subject: str
    exercise: str
    start_ns: int
    end_ns: int
    plan_entry: str | None
    source: str
    status: str
    sets: tuple[SetRecord, ...]
    meta: dict[str, Any]

    @property
    def reps(self) -> int:
        """Total repetitions over all sets."""
        return sum(len(s.reps) for s in self.sets)


_TABLES = {
    "frames",
    "gaps",
    "steps_minute",
    "walking_bouts",
    "sessions",
    "exercise_sets",
    "repetitions",
    "daily_summary",
    "scores",
    "dead_letter",
    "outbox",
    "mqtt_events",
    "programme_events",
}
